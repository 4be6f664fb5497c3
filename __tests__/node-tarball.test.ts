// kubeadm, kubelet and kubectl from Kubernetes' node tarball (issue 17: fewer bytes): which
// form a run fetches, from where, and what it does when a mirror lacks the tarball or serves
// a tampered one. A mirror "elsewhere" is this test's server on a non-loopback address; the
// download code treats it as it would dl.k8s.io.
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { renderPlan } from '../src/engine/describe.js'
import { ChecksumError } from '../src/host/download.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { artifacts } from '../src/phases/artifacts.js'
import { kubernetesBinaries } from '../src/phases/binaries.js'
import { buildPlan } from '../src/phases/index.js'
import type { Config } from '../src/config/inputs.js'
import { config, hostedRunner } from './helpers/facts.js'
import { releaseRoutes, standIn } from './helpers/host-tree.js'
import { nonLoopbackAddress, serve, type Route, type TestServer } from './helpers/http.js'

const NODE = '/release/v1.34.2/kubernetes-node-linux-amd64.tar.gz'
const BINS = ['kubeadm', 'kubelet', 'kubectl'] as const

describe('kubeadm, kubelet and kubectl: the node tarball from a mirror elsewhere', () => {
  const addr = nonLoopbackAddress()
  let routes: Record<string, Route>
  let remote: TestServer | undefined
  let local: TestServer
  let dirs: string[] = []
  const saved = { RUNNER_TOOL_CACHE: process.env.RUNNER_TOOL_CACHE, RUNNER_TEMP: process.env.RUNNER_TEMP }

  before(async () => {
    routes = await releaseRoutes()
    local = await serve(routes)
    if (addr) remote = await serve(routes, addr)
  })
  after(async () => {
    await local.close()
    await remote?.close()
  })
  beforeEach(async () => {
    // a tool cache of its own each time: a hit would hide the download
    const tc = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const temp = await mkdtemp(join(tmpdir(), 'ksn-temp-'))
    dirs = [tc, temp]
    Object.assign(process.env, { RUNNER_TOOL_CACHE: tc, RUNNER_TEMP: temp })
    local.hits.length = 0
    if (remote) remote.hits.length = 0
  })
  afterEach(async () => {
    Object.assign(process.env, saved)
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  // the inputs' parser refuses plain http:// to another host; the download code is handed the URL as a mirror's https:// would be
  const from = (base: string): Config => ({ ...config(), kubernetesReleaseUrl: `${base}/release` })
  const kube = (c: Config) => kubernetesBinaries({ config: c, version: 'v1.34.2', facts: hostedRunner, arts: artifacts(c, 'v1.34.2', 'amd64') })
  const releaseHits = (s: TestServer): string[] => s.hits.filter((h) => h.startsWith('/release/')).sort()
  const lines: string[] = []
  const log = (l: string): void => void lines.push(l)

  it('fetches and verifies the tarball once for all three, and hands each its own member', async (t) => {
    if (!remote) return t.skip('this machine has no IPv4 address but loopback: a mirror elsewhere cannot be stood in for')
    const k = kube(from(remote.url))
    assert.equal(k.node?.url, `${remote.url}${NODE}`)
    const paths = await Promise.all(BINS.map((b) => k.get(b, log)))
    for (const [i, b] of BINS.entries()) assert.equal(await readFile(paths[i], 'utf8'), standIn(b), `${b} is the tarball's ${b}`)
    assert.deepEqual(releaseHits(remote), [NODE, `${NODE}.sha256`], 'one tarball and its checksum, no bare binary')
  })

  it('takes the bare binaries where the mirror does not publish the tarball, and says so', async (t) => {
    if (!remote) return t.skip('this machine has no IPv4 address but loopback: a mirror elsewhere cannot be stood in for')
    const node = routes[NODE]
    delete routes[NODE]
    try {
      const k = kube(from(remote.url))
      for (const b of BINS) assert.equal(await readFile(await k.get(b, log), 'utf8'), standIn(b))
    } finally {
      routes[NODE] = node
    }
    const hits = releaseHits(remote)
    for (const b of BINS) assert.ok(hits.includes(`/release/v1.34.2/bin/linux/amd64/${b}`), `${b} fetched bare`)
    assert.ok(lines.some((l) => l.includes('kubernetes-node-linux-amd64.tar.gz is not published there')), lines.join('\n'))
  })

  it('stops at a tampered tarball, and does not go to the bare binaries instead', async (t) => {
    if (!remote) return t.skip('this machine has no IPv4 address but loopback: a mirror elsewhere cannot be stood in for')
    const node = routes[NODE]
    routes[NODE] = { body: 'tampered' }
    try {
      const k = kube(from(remote.url))
      await assert.rejects(k.get('kubelet', log), (err: unknown) => err instanceof ChecksumError && /kubernetes-node/.test(err.message))
    } finally {
      routes[NODE] = node
    }
    assert.equal(releaseHits(remote).some((h) => h.includes('/bin/linux/')), false, 'a mismatch is never a reason to fetch elsewhere')
    assert.deepEqual((await readdir(process.env.RUNNER_TEMP!)).filter((f) => f.endsWith('.tar')), [], 'what was gunzipped along the way is gone with it')
  })

  it('from a mirror on this machine, fetches the bare binaries: what an offline mirror is known to hold', async () => {
    const k = kube(from(local.url))
    assert.equal(k.node, undefined)
    for (const b of BINS) assert.equal(await readFile(await k.get(b, log), 'utf8'), standIn(b))
    assert.equal(releaseHits(local).includes(NODE), false)
  })

  it('the dry run names the tarball, its checksum, and the bare binaries it falls back to', () => {
    const plan = buildPlan({ config: config(), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /GET https:\/\/dl\.k8s\.io\/release\/v1\.34\.2\/kubernetes-node-linux-amd64\.tar\.gz once for kubeadm, kubelet and kubectl/)
    assert.match(text, /verify SHA-256 against https:\/\/dl\.k8s\.io\/release\/v1\.34\.2\/kubernetes-node-linux-amd64\.tar\.gz\.sha256/)
    assert.match(text, /if the tarball is not published there, the bare binary:\n.*GET https:\/\/dl\.k8s\.io\/release\/v1\.34\.2\/bin\/linux\/amd64\/kubelet/)
  })
})
