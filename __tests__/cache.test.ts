// The cache between runs: its key, its entry on disk, what a restore trusts (nothing on its
// own word: downloads against the checksums published now, images through the runtime's
// digest-checked import), and the whole main and post steps run twice on fresh simulated
// runners that share only the cache. GitHub's cache service itself is not here: these runs
// keep entries in a directory (directoryCache), the backend the command line uses; the
// @actions/cache backend is exercised only by the e2e workflow.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { actionsCache, directoryCache, type CacheBackend } from '../src/cache/backend.js'
import { checkEntry, writeManifest } from '../src/cache/entry.js'
import { cacheKey } from '../src/cache/key.js'
import { CacheSession } from '../src/cache/session.js'
import { actionMain, actionPost } from '../src/entry/action.js'
import { cachedBinary, downloadVerified, type Artifact } from '../src/host/download.js'
import { startCacheService, type CacheService } from './helpers/cache-service.js'
import { config } from './helpers/facts.js'
import { serve, type Route, type TestServer } from './helpers/http.js'
import { layRunner, releaseRoutes } from './helpers/host-tree.js'
import { inputEnv, parseCommandFile, sandbox, type Sandbox } from './helpers/runner.js'
import { linesReporter } from './helpers/reporter.js'
import { saveCache } from '../src/commands/save-cache.js'
import type { CommandEnv } from '../src/commands/env.js'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import type { ImageStore } from '../src/images/store.js'
import { importCached } from '../src/phases/images.js'
import { HOST_PATHS } from '../src/host/paths.js'

/**
 * Puts the environment back key by key: assigning process.env a plain object would cut it off
 * from the real environment, which os.homedir() (the ledger file's home) reads.
 */
function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
  Object.assign(process.env, saved)
}

/** Sets or, for undefined, removes a variable (process.env would store the word "undefined"). */
function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

const tmp = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), `ksn-${prefix}-`))

describe('cache key', () => {
  const key = (inputs: Record<string, string> = {}, version = 'v1.34.2', arch = 'amd64') => cacheKey(config(inputs), version, arch)

  it('names version, architecture and runtime, and hashes the image set', () => {
    const k = key()
    assert.match(k.key, /^kubeadm-single-node-1-linux-amd64-v1\.34\.2-containerd-[0-9a-f]{16}$/)
    assert.deepEqual(k.restoreKeys, ['kubeadm-single-node-1-linux-amd64-v1.34.2-containerd-'])
    assert.ok(k.key.startsWith(k.restoreKeys[0]))
    assert.equal(key().key, k.key, 'the same inputs give the same key')
  })

  it('changes with every input that changes what is downloaded or pulled, mirrors included', () => {
    const base = key().key
    for (const inputs of [
      { 'registry-mirrors': 'docker.io=https://mirror.gcr.io' },
      { 'image-repository': 'registry.aliyuncs.com/google_containers' },
      { 'preload-images': 'busybox' },
      { 'smoke-test-image': 'nginx:1' },
      { cni: 'none' },
      { 'github-url': 'https://gh.example' },
      { 'mirror-preset': 'china' }
    ] as Array<Record<string, string>>) {
      assert.notEqual(key(inputs).key, base, JSON.stringify(inputs))
    }
    assert.notEqual(key({}, 'v1.34.3').key, base)
    assert.notEqual(key({}, 'v1.34.2', 'arm64').key, base)
  })

  it('ignores what changes neither the files nor the images', () => {
    const base = key().key
    for (const inputs of [{ timeout: '9m' }, { cleanup: 'true' }, { untaint: 'false' }, { 'pod-network-cidr': '10.32.0.0/16' }] as Array<Record<string, string>>) assert.equal(key(inputs).key, base, JSON.stringify(inputs))
  })

  it("does not depend on the order of registry-mirrors' lines, only on what they say", () => {
    const a = key({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io\nquay.io=https://q.example\nghcr.io=https://g.example' }).key
    assert.equal(key({ 'registry-mirrors': 'quay.io=https://q.example\nghcr.io=https://g.example\ndocker.io=https://mirror.gcr.io' }).key, a)
    assert.notEqual(key({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io\nquay.io=https://other.example\nghcr.io=https://g.example' }).key, a)
  })
})

describe('cache entries on disk', () => {
  const made: string[] = []
  afterEach(async () => {
    for (const d of made.splice(0)) await rm(d, { recursive: true, force: true })
  })
  const dirs = async () => {
    const [root, work] = [await tmp('entries'), await tmp('work')]
    made.push(root, work)
    return { root, work }
  }
  const k = cacheKey(config(), 'v1.34.2', 'amd64')

  it('a directory backend restores the exact entry, else the newest under a restore key', async () => {
    const { root, work } = await dirs()
    const backend = directoryCache(root, join(work, 'w'))
    assert.equal(await backend.restore(join(work, 'a'), k.key, k.restoreKeys), undefined, 'nothing saved yet')
    const src = join(work, 'src')
    await writeFile(join(await ensureDir(src), 'x'), 'old')
    await backend.save(src, `${k.restoreKeys[0]}older`)
    await new Promise((r) => setTimeout(r, 20))
    await writeFile(join(src, 'x'), 'new')
    await backend.save(src, `${k.restoreKeys[0]}newer`)
    assert.equal(await backend.restore(join(work, 'b'), k.key, k.restoreKeys), `${k.restoreKeys[0]}newer`)
    assert.equal(await readFile(join(work, 'b', 'x'), 'utf8'), 'new')
    await writeFile(join(src, 'x'), 'exact')
    await backend.save(src, k.key)
    assert.equal(await backend.restore(join(work, 'c'), k.key, k.restoreKeys), k.key)
    assert.equal(await readFile(join(work, 'c', 'x'), 'utf8'), 'exact')
    assert.deepEqual((await readdir(root)).filter((n) => n.endsWith('.partial')), [], 'no half-saved entry is left behind')
  })

  it('checks entry.json against the files: a truncated or missing file makes the entry damaged', async () => {
    const { work } = await dirs()
    await writeFile(join(await ensureDir(join(work, 'downloads', 'kubelet')), 'kubelet'), 'x'.repeat(1000))
    await writeFile(join(work, 'images.tar'), 'y'.repeat(5000))
    const m = await writeManifest(work, k.key, ['registry.k8s.io/pause:3.10.1'])
    assert.deepEqual(m.files, [
      { path: 'downloads/kubelet/kubelet', bytes: 1000 },
      { path: 'images.tar', bytes: 5000 }
    ])
    const ok = await checkEntry(work)
    assert.ok(ok.ok && ok.bytes === 6000)
    await truncate(join(work, 'images.tar'), 100)
    assert.deepEqual(await checkEntry(work), { ok: false, problem: 'images.tar is 100 bytes, not 5000' })
    await rm(join(work, 'images.tar'))
    assert.deepEqual(await checkEntry(work), { ok: false, problem: 'images.tar is missing' })
    await writeFile(join(work, 'entry.json'), '{"format":1,"files":[{"path":"../../etc/passwd","bytes":1}],"images":[]}')
    assert.match(JSON.stringify(await checkEntry(work)), /bad path/)
  })

  it('a session ignores a damaged entry with a warning and starts empty', async () => {
    const { root, work } = await dirs()
    const backend = directoryCache(root, join(work, 'w'))
    const entry = join(work, 'entry')
    await writeFile(join(await ensureDir(entry), 'images.tar'), 'z'.repeat(300))
    await writeManifest(entry, k.key, ['docker.io/library/nginx:stable-alpine'])
    await backend.save(entry, k.key)
    await truncate(join(root, k.key, 'images.tar'), 10)
    const session = new CacheSession(backend, join(work, 'restore'), k)
    const log: string[] = []
    await session.restore((l) => log.push(l))
    assert.equal(session.restored, undefined)
    assert.equal(session.imageArchive(), undefined)
    assert.match(session.warnings.join('\n'), /is damaged \(images\.tar is 10 bytes, not 300\); it was ignored/)
    assert.deepEqual(await readdir(join(work, 'restore')), [], 'the damaged files are gone before anything reads them')
  })

  it('a backend that fails is a warning, not a failure', async () => {
    const { work } = await dirs()
    const broken: CacheBackend = { describe: 'a broken service', workDir: join(work, 'r'), unavailable: () => undefined, restore: () => Promise.reject(new Error('503 from the cache service')), save: async () => {} }
    const session = new CacheSession(broken, join(work, 'r'), k)
    await session.restore(() => {})
    assert.match(session.warnings[0], /could not be restored from a broken service \(503 from the cache service\); it was ignored/)
  })
})

/** `dir`, made with its parents */
async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  return dir
}

describe('downloads kept in the cache', () => {
  let server: TestServer
  const body = Buffer.from('#!/bin/sh\necho kubelet\n')
  before(async () => {
    server = await serve({ '/v1/kubelet': { body }, '/v1/kubelet.sha256': { body: `${createHash('sha256').update(body).digest('hex')}\n` } })
  })
  after(() => server.close())
  const art = (): Artifact => ({ name: 'kubelet', url: `${server.url}/v1/kubelet`, checksumUrl: `${server.url}/v1/kubelet.sha256`, input: 'kubernetes-release-url' })

  it('a fresh download is verified, then kept; the next run takes the kept copy and fetches only the checksum', async () => {
    const work = await tmp('dl')
    const temp = process.env.RUNNER_TEMP
    process.env.RUNNER_TEMP = await ensureDir(join(work, 'temp'))
    try {
      const k = cacheKey(config(), 'v1.34.2', 'amd64')
      const backend = directoryCache(join(work, 'entries'), join(work, 'w'))
      const first = new CacheSession(backend, join(work, 'one'), k)
      await first.restore(() => {})
      server.hits.length = 0
      const p1 = await downloadVerified(art(), first)
      assert.deepEqual(server.hits, ['/v1/kubelet.sha256', '/v1/kubelet'])
      assert.deepEqual(await readFile(join(work, 'one', 'downloads', 'kubelet', 'kubelet')), body)
      await rm(p1)
      await writeManifest(first.dir, k.key, [])
      await backend.save(first.dir, k.key)

      const second = new CacheSession(backend, join(work, 'two'), k)
      await second.restore(() => {})
      server.hits.length = 0
      const log: string[] = []
      const p2 = await downloadVerified(art(), second, (l) => log.push(l))
      assert.deepEqual(server.hits, ['/v1/kubelet.sha256'], 'the binary itself was not downloaded again')
      assert.deepEqual(await readFile(p2), body)
      assert.deepEqual(second.taken, ['kubelet'])
      assert.match(log.join('\n'), /kubelet from the cache entry, verified against/)
      await rm(p2)

      // a kept copy that no longer matches what is published is not used
      await writeFile(join(work, 'two', 'downloads', 'kubelet', 'kubelet'), Buffer.alloc(body.length, 0x41))
      server.hits.length = 0
      const p3 = await downloadVerified(art(), second)
      assert.deepEqual(server.hits, ['/v1/kubelet.sha256', '/v1/kubelet'])
      assert.deepEqual(await readFile(p3), body)
      assert.match(second.warnings.join('\n'), /The cache entry's kubelet was not used: its SHA-256 is [0-9a-f]{64}, but .* says/)
      await rm(p3)
    } finally {
      setEnv('RUNNER_TEMP', temp)
      await rm(work, { recursive: true, force: true })
    }
  })

  it("a self-hosted runner's tool cache still fills the entry, so that a runner without one restores the file", async () => {
    const work = await tmp('dl-tc')
    const saved = { temp: process.env.RUNNER_TEMP, tools: process.env.RUNNER_TOOL_CACHE }
    process.env.RUNNER_TEMP = await ensureDir(join(work, 'temp'))
    process.env.RUNNER_TOOL_CACHE = await ensureDir(join(work, 'toolcache'))
    try {
      const k = cacheKey(config(), 'v1.34.2', 'amd64')
      const key = { tool: 'kubelet', version: 'v1.34.2', arch: 'amd64' }
      // the first job fills the runner's tool cache
      await cachedBinary(art(), key)
      const session = new CacheSession(directoryCache(join(work, 'entries'), join(work, 'w')), join(work, 'w'), k)
      await session.restore(() => {})
      server.hits.length = 0
      const path = await cachedBinary(art(), key, () => {}, session)
      assert.deepEqual(server.hits, ['/v1/kubelet.sha256'], 'the tool cache served it, checked against the checksum published now')
      assert.deepEqual(await readFile(path), body)
      assert.deepEqual(await readFile(join(work, 'w', 'downloads', 'kubelet', 'kubelet')), body, 'and the entry to be saved has it too')
    } finally {
      setEnv('RUNNER_TEMP', saved.temp)
      setEnv('RUNNER_TOOL_CACHE', saved.tools)
      await rm(work, { recursive: true, force: true })
    }
  })
})


interface Job {
  sb: Sandbox
  out: Record<string, string>
  summary: string
  cmds: string[]
  hits: string[]
  installed: (p: string) => Promise<string>
}

const BIN = '/release/v1.34.2/bin/linux/amd64/'

/** One job: main, then post (with the state main left), on a simulated runner of its own. */
async function job(server: TestServer, backend: CacheBackend, extra: Record<string, string> = {}): Promise<Job> {
  const sb = await sandbox()
  const paths = await layRunner(sb.root)
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
  Object.assign(process.env, sb.env, { HOME: join(sb.root, 'home/runner'), SHIM_NODE_PORT: new URL(server.url).port })
  Object.assign(
    process.env,
    inputEnv({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, 'pod-network-cidr': '10.32.0.0/16', cache: 'true', ...extra })
  )
  process.exitCode = undefined
  ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  server.hits.length = 0
  await actionMain(paths, backend)
  const summary = await readFile(sb.files.summary, 'utf8')
  assert.equal(process.exitCode, undefined, summary)
  const hits = [...server.hits]
  for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
  await actionPost(backend, paths)
  const cmds = (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')
  return { sb, out: parseCommandFile(await readFile(sb.files.output, 'utf8')), summary, cmds, hits, installed: (p) => readFile(join(paths.binDir, p), 'utf8') }
}
/** A docker-save tarball declaring `tags` (a manifest.json and an empty config; no layers), written by tar. */
async function dockerSaveTar(dir: string, tags: string[], name = 'archive.tar'): Promise<string> {
  const src = await mkdtemp(join(tmpdir(), 'ksn-save-'))
  await writeFile(join(src, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: tags, Layers: [] }]))
  await writeFile(join(src, 'cfg.json'), '{}')
  const out = join(dir, name)
  execFileSync('tar', ['-cf', out, '-C', src, 'manifest.json', 'cfg.json'])
  await rm(src, { recursive: true, force: true })
  return out
}
/**
 * An entry's archive as review15's make-archive.sh built it: manifest.json names `docker`;
 * oci-layout and index.json (what containerd imports when oci-layout is there) name `oci`.
 */
async function ociTar(dir: string, docker: string[], oci: string[], name = 'images.tar'): Promise<string> {
  const src = await mkdtemp(join(tmpdir(), 'ksn-oci-'))
  const desc = (n: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2, annotations: { 'io.containerd.image.name': n } })
  await writeFile(join(src, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await writeFile(join(src, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: oci.map(desc) }))
  await writeFile(join(src, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: docker, Layers: [] }]))
  await writeFile(join(src, 'cfg.json'), '{}')
  const out = join(dir, name)
  execFileSync('tar', ['-cf', out, '-C', src, 'manifest.json', 'oci-layout', 'index.json', 'cfg.json'])
  await rm(src, { recursive: true, force: true })
  return out
}
const pulls = (r: Job) => r.cmds.filter((c) => / images pull --local --hosts-dir /.test(c)).map((c) => c.split(' ').at(-1)!)
const binaryHits = (r: Job) => r.hits.filter((h) => !h.endsWith('.sha256') && !h.endsWith('.sha256sum') && (h.startsWith(BIN) || h.endsWith('.tgz') || h.endsWith('.tar.gz')))

describe('main and post, twice, on fresh runners sharing only the cache', () => {
  let server: TestServer
  let routes: Record<string, Route>
  let entries: string
  let work: string
  let backend: CacheBackend
  const savedEnv = { ...process.env }

  before(async () => {
    routes = await releaseRoutes()
    server = await serve(routes)
    entries = await tmp('entries')
    work = await tmp('cache-work')
    backend = directoryCache(entries, work)
  })
  after(async () => {
    await server.close()
    await rm(entries, { recursive: true, force: true })
    await rm(work, { recursive: true, force: true })
    restoreEnv(savedEnv)
    process.exitCode = undefined
  })
  const keyOf = () => cacheKey(config({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh` }), 'v1.34.2', 'amd64').key

  it('the first run downloads and pulls everything, and its post step saves the entry', async () => {
    const r = await job(server, backend)
    assert.equal(r.out['cache-hit'], 'false')
    assert.equal(pulls(r).length, 9)
    assert.deepEqual(binaryHits(r).sort(), [
      '/gh/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz',
      '/gh/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz',
      `${BIN}kubeadm`,
      `${BIN}kubectl`,
      `${BIN}kubelet`
    ])
    assert.match(r.summary, /no usable entry for kubeadm-single-node-1-linux-amd64-v1\.34\.2-containerd-/)
    assert.ok(r.cmds.some((c) => /^ctr .* images export --local .*\/images\.tar registry\.k8s\.io\/kube-apiserver:v1\.34\.2 /.test(c)), 'the post step exported the images')
    assert.deepEqual(await readdir(entries), [keyOf()])
    const entry = JSON.parse(await readFile(join(entries, keyOf(), 'entry.json'), 'utf8'))
    assert.deepEqual(entry.files.map((f: { path: string }) => f.path), [
      'downloads/cni-plugins/cni-plugins-linux-amd64-v1.8.0.tgz',
      'downloads/crictl/crictl-v1.34.0-linux-amd64.tar.gz',
      'downloads/kubeadm/kubeadm',
      'downloads/kubectl/kubectl',
      'downloads/kubelet/kubelet',
      'images.tar'
    ])
    // pause was in the store before the preload (the shim's containerd has it): not the action's
    // own pull, so not the entry's (an image there before the run may be private)
    assert.equal(entry.images.length, 9, "kubeadm's seven but pause, flannel's two and nginx")
    assert.ok(!entry.images.includes('registry.k8s.io/pause:3.10.1'), entry.images.join(' '))
  })

  it('the second run restores it: no binary downloaded, no image pulled, and nothing saved again', async () => {
    const before = (await stat(join(entries, keyOf(), 'entry.json'))).mtimeMs
    const r = await job(server, backend)
    assert.equal(r.out['cache-hit'], 'true')
    assert.deepEqual(binaryHits(r), [], 'only the checksum files were fetched')
    assert.ok(r.hits.includes(`${BIN}kubelet.sha256`), 'each kept download is checked against the checksum published now')
    assert.deepEqual(pulls(r), [])
    assert.ok(r.cmds.some((c) => /^ctr .* images import --local .*\/images\.tar$/.test(c)))
    assert.equal(await r.installed('kubelet'), (routes[`${BIN}kubelet`] as { body: string }).body)
    assert.match(r.summary, /restored kubeadm-single-node-1-linux-amd64-v1\.34\.2-containerd-[0-9a-f]+ \([0-9.]+ MB\): cni-plugins, crictl, kubeadm, kubectl, kubelet, 9 images/)
    assert.match(r.summary, /0 pulled, 9 from the cache, 1 already present/)
    assert.equal((await stat(join(entries, keyOf(), 'entry.json'))).mtimeMs, before, 'an exact hit is not saved again')
  })

  it('another image set restores the same version partially, pulls only what is new, and saves its own entry', async () => {
    const r = await job(server, backend, { 'preload-images': 'docker.io/library/busybox:1.37' })
    assert.equal(r.out['cache-hit'], 'partial')
    assert.deepEqual(pulls(r), ['docker.io/library/busybox:1.37'])
    assert.deepEqual(binaryHits(r), [])
    assert.equal((await readdir(entries)).length, 2)
  })

  it('a damaged entry is ignored with a warning, the run pulls everything and succeeds, and post saves a good one', async () => {
    await truncate(join(entries, keyOf(), 'images.tar'), 3)
    const r = await job(server, backend)
    assert.equal(r.out['cache-hit'], 'false')
    assert.equal(pulls(r).length, 9)
    assert.match(r.summary, /is damaged \(images\.tar is 3 bytes, not \d+\); it was ignored/)
    assert.ok((await checkEntry(join(entries, keyOf()))).ok, 'the post step replaced it')
  })

  it('a kept binary that does not match the published checksum is downloaded again, with a warning', async () => {
    const kept = join(entries, keyOf(), 'downloads/kubelet/kubelet')
    const size = (await stat(kept)).size
    await writeFile(kept, Buffer.alloc(size, 0x41))
    const r = await job(server, backend)
    assert.equal(r.out['cache-hit'], 'true')
    assert.deepEqual(binaryHits(r), [`${BIN}kubelet`])
    assert.equal(await r.installed('kubelet'), (routes[`${BIN}kubelet`] as { body: string }).body)
    assert.match(r.summary, /The cache entry's kubelet was not used: its SHA-256 is/)
  })

  it('keeps what image-archives bring out of the entry: only what the action pulled from a registry is saved', async () => {
    const [root, w] = [await tmp('entries-archives'), await tmp('work-archives')]
    try {
      // not in w: the cache session empties its work directory
      const archive = await dockerSaveTar(await tmp('archives'), ['docker.io/library/nginx:stable-alpine'])
      const r = await job(server, directoryCache(root, w), { 'image-archives': archive })
      assert.ok(!pulls(r).includes('docker.io/library/nginx:stable-alpine'), 'the archive brought it')
      const entry = JSON.parse(await readFile(join(root, (await readdir(root))[0], 'entry.json'), 'utf8'))
      assert.ok(!entry.images.includes('docker.io/library/nginx:stable-alpine'), entry.images.join(', '))
      assert.ok(entry.images.includes('registry.k8s.io/etcd:3.6.5-0'), entry.images.join(', '))
    } finally {
      await rm(root, { recursive: true, force: true })
      await rm(w, { recursive: true, force: true })
    }
  })

  it('a poisoned entry, whose archive names an image the plan does not ask for, is not imported: everything is pulled', async () => {
    const [root, w] = [await tmp('entries-poison'), await tmp('work-poison')]
    try {
      const first = await job(server, directoryCache(root, w))
      assert.equal(first.out['cache-hit'], 'false')
      const dir = join(root, (await readdir(root))[0])
      const entry = JSON.parse(await readFile(join(dir, 'entry.json'), 'utf8'))
      // the archive replaced by one that also names an image outside the plan, entry.json made to agree
      await rm(join(dir, 'images.tar'))
      await dockerSaveTar(dir, [...entry.images, 'ghcr.io/attacker/miner:1'], 'images.tar')
      await writeManifest(dir, entry.key, entry.images)
      const r = await job(server, directoryCache(root, w))
      assert.equal(r.out['cache-hit'], 'true')
      assert.ok(!r.cmds.some((c) => / images import .*images\.tar$/.test(c) && c.includes(dir)), 'the archive was never imported')
      assert.equal(pulls(r).length, 9, 'what the entry would have brought is pulled')
      assert.match(r.summary, /image archive was not imported: it names ghcr\.io\/attacker\/miner:1, which this run does not ask for/)
    } finally {
      await rm(root, { recursive: true, force: true })
      await rm(w, { recursive: true, force: true })
    }
  })

  /** Runs a first job, lets `poison` replace the entry's archive (entry.json made to agree), and runs a second on it. */
  async function poisoned(label: string, poison: (dir: string, images: string[]) => Promise<void>, extra: Record<string, string> = {}): Promise<Job> {
    const [root, w] = [await tmp(`entries-${label}`), await tmp(`work-${label}`)]
    try {
      const first = await job(server, directoryCache(root, w), extra)
      assert.equal(first.out['cache-hit'], 'false')
      const dir = join(root, (await readdir(root))[0])
      const entry = JSON.parse(await readFile(join(dir, 'entry.json'), 'utf8'))
      await rm(join(dir, 'images.tar'))
      await poison(dir, entry.images)
      await writeManifest(dir, entry.key, entry.images)
      const r = await job(server, directoryCache(root, w), extra)
      assert.equal(r.out['cache-hit'], 'true')
      assert.ok(!r.cmds.some((c) => / images import .*images\.tar$/.test(c) && c.includes(dir)), 'the archive was never imported')
      return r
    } finally {
      await rm(root, { recursive: true, force: true })
      await rm(w, { recursive: true, force: true })
    }
  }

  it("refuses an entry whose manifest.json names the plan's images but whose index.json, which containerd imports, names another (review15 B1)", async () => {
    const r = await poisoned('oci', async (dir, images) => void (await ociTar(dir, images, [...images, 'docker.io/library/myapp:dev'])))
    assert.equal(pulls(r).length, 9, 'what the entry would have brought is pulled')
    assert.match(r.summary, /could not be imported \(cache entry: \S+images\.tar is refused: its manifest\.json names .*, but its index\.json .* names docker\.io\/library\/myapp:dev, /)
  })

  it('refuses an entry whose archive holds manifest.json twice: containerd reads the last copy, the old reader the first', async () => {
    const r = await poisoned('twice', async (dir, images) => {
      const a = await dockerSaveTar(dir, images, 'images.tar')
      const b = await dockerSaveTar(await tmp('twice'), [...images, 'docker.io/library/myapp:dev'])
      execFileSync('tar', ['-Af', a, b])
    })
    assert.equal(pulls(r).length, 9, 'what the entry would have brought is pulled')
    assert.match(r.summary, /could not be imported \(cache entry: \S+images\.tar could not be read as a tar archive \(it holds the member "manifest\.json" twice/)
  })

  it('does not import an entry that names an image image-archives bring: it would replace the one the user gave', async () => {
    // nginx is the smoke test's image: in the plan, so only the shadowing check stops it
    const archive = await dockerSaveTar(await tmp('archives-shadow'), ['docker.io/library/nginx:stable-alpine'])
    const r = await poisoned('shadow', async (dir, images) => void (await dockerSaveTar(dir, [...images, 'docker.io/library/nginx:stable-alpine'], 'images.tar')), { 'image-archives': archive })
    assert.match(r.summary, /image archive was not imported: it would replace docker\.io\/library\/nginx:stable-alpine, which load-images or image-archives bring/)
    assert.ok(!pulls(r).includes('docker.io/library/nginx:stable-alpine'), 'image-archives brought it')
    assert.equal(pulls(r).length, 8, "what the entry would have brought is pulled, all but the archive's image")
  })

  it('keeps an image pulled with registry-credentials out of the entry: any run of the repository could restore it', async () => {
    const [root, w] = [await tmp('entries-creds'), await tmp('work-creds')]
    try {
      const r = await job(server, directoryCache(root, w), { 'registry-credentials': 'docker.io=ci-user:dckr_pat_secret' })
      const entry = JSON.parse(await readFile(join(root, (await readdir(root))[0], 'entry.json'), 'utf8'))
      assert.equal(entry.images.length, 8, entry.images.join(' '))
      assert.ok(!entry.images.includes('docker.io/library/nginx:stable-alpine'), entry.images.join(', '))
      const exported = r.cmds.find((c) => / images export /.test(c)) ?? ''
      assert.ok(exported.includes('registry.k8s.io/etcd:3.6.5-0') && !exported.includes('docker.io/'), exported)
    } finally {
      await rm(root, { recursive: true, force: true })
      await rm(w, { recursive: true, force: true })
    }
  })

  it('cache: false neither restores nor saves', async () => {
    const before = await readdir(entries)
    const r = await job(server, backend, { cache: 'false' })
    assert.equal(r.out['cache-hit'], 'false')
    assert.equal(pulls(r).length, 9)
    assert.deepEqual(await readdir(entries), before)
    assert.ok(!r.cmds.some((c) => / images export /.test(c)))
  })
})

describe('the same runs through @actions/cache, against a stand-in of the cache service (the protocol GitHub Enterprise Server speaks)', () => {
  let server: TestServer
  let service: CacheService
  let temp: string
  const savedEnv = { ...process.env }

  before(async () => {
    server = await serve(await releaseRoutes())
    service = await startCacheService()
    temp = await tmp('runner-temp')
  })
  after(async () => {
    await server.close()
    await service.close()
    await rm(temp, { recursive: true, force: true })
    restoreEnv(savedEnv)
    process.exitCode = undefined
  })

  /** a runner's cache environment: the same RUNNER_TEMP path in every job, as on a real runner */
  const actionsBackend = (): CacheBackend => {
    delete process.env.ACTIONS_RESULTS_URL
    delete process.env.ACTIONS_CACHE_SERVICE_V2
    Object.assign(process.env, { ACTIONS_CACHE_URL: service.url, ACTIONS_RUNTIME_TOKEN: 'stand-in-token', GITHUB_SERVER_URL: 'https://ghes.example', RUNNER_TEMP: temp })
    return actionsCache()
  }

  it('a second job restores what the first saved: nothing downloaded, nothing pulled', async () => {
    const backend = actionsBackend()
    assert.equal(backend.unavailable(), undefined)
    const first = await job(server, backend)
    assert.equal(first.out['cache-hit'], 'false')
    assert.equal(service.keys().length, 1, 'the post step saved one entry through @actions/cache')
    assert.match(service.keys()[0], /^kubeadm-single-node-1-linux-amd64-v1\.34\.2-containerd-[0-9a-f]{16}$/)
    const second = await job(server, backend)
    assert.equal(second.out['cache-hit'], 'true')
    assert.deepEqual(binaryHits(second), [])
    assert.deepEqual(pulls(second), [])
    assert.equal(service.keys().length, 1, 'an exact hit is not saved again')
  })

  it('without the service, the cache is off with a note, and the run goes on', async () => {
    delete process.env.ACTIONS_CACHE_URL
    delete process.env.ACTIONS_RESULTS_URL
    const backend = actionsCache()
    assert.match(backend.unavailable() ?? '', /not available to this job/)
    const r = await job(server, backend)
    assert.equal(r.out['cache-hit'], 'false')
    assert.match(r.summary, /cache: GitHub's cache service is not available to this job/)
  })
})

describe("the post step's export, from the record's data", () => {
  const record = (cache: Record<string, unknown>): LedgerRecord =>
    ({ version: 'v1.34.2', changes: [], completed: [], cleanup: false, finished: true, kubeconfig: '/home/runner/.kube/config', runtime: 'containerd', cni: 'flannel', cache: { dir: '/tmp/ksn-entry', key: 'k', exact: false, ...cache } }) as unknown as LedgerRecord
  const env = (ran: string[][], lines: string[]): CommandEnv =>
    ({
      paths: HOST_PATHS,
      run: async (argv: string[]) => (ran.push(argv), { exitCode: 0, stdout: '', stderr: '' }),
      io: linesReporter(lines),
      cache: { describe: 'test', save: async () => {} }
    }) as unknown as CommandEnv

  it('builds the runtime\'s own export command: the host containerd, or the action\'s own, by data', async () => {
    const ran: string[][] = []
    await saveCache(record({ images: ['registry.k8s.io/etcd:3.6.5-0'], runtime: 'containerd', store: { own: true, containerdMajor: 2 } }), env(ran, []))
    assert.deepEqual(ran[0], ['/usr/local/lib/kubeadm-single-node/containerd/bin/ctr', '--address', '/run/kubeadm-single-node/containerd/containerd.sock', '--namespace', 'k8s.io', 'images', 'export', '--local', '/tmp/ksn-entry/images.tar', 'registry.k8s.io/etcd:3.6.5-0'])
  })

  for (const [what, cache, why] of [
    ['an image that passes for an option', { images: ['--output=/etc/shadow'], runtime: 'containerd', store: { own: false, containerdMajor: 2 } }, /not image references/],
    ['a runtime the action does not have', { images: ['registry.k8s.io/etcd:3.6.5-0'], runtime: 'sh', store: {} }, /names a runtime the action does not have/],
    ['a containerd store it never writes', { images: ['registry.k8s.io/etcd:3.6.5-0'], runtime: 'containerd', store: { own: 'yes', containerdMajor: 2 } }, /names a containerd store the action never writes/],
    ['the command text of old', { images: ['registry.k8s.io/etcd:3.6.5-0'], exportArgv: ['sh', '-c', 'id'] }, /names a runtime the action does not have/]
  ] as const) {
    it(`runs nothing as root for a record with ${what}, and says why the entry was not saved`, async () => {
      const ran: string[][] = []
      const lines: string[] = []
      await saveCache(record(cache as Record<string, unknown>), env(ran, lines))
      assert.deepEqual(ran, [])
      assert.match(lines.join('\n'), why)
    })
  }
})

describe('importCached: what the import adds is checked against the plan after it, too', () => {
  /** A store whose import brings `brings` whatever the archive declares, as a reader and containerd that disagreed would. */
  function lyingStore(have: string[], brings: string[]) {
    const present = new Set(have)
    const removed: string[][] = []
    const store: ImageStore = {
      list: async () => new Set(present),
      pull: async () => {},
      importArchive: async () => {
        for (const n of brings) present.add(n)
        return ['registry.k8s.io/pause:3.10.1']
      },
      tag: async () => {},
      remove: async (refs) => {
        removed.push([...refs])
        for (const r of refs) present.delete(r)
      },
      exportArchive: async () => {}
    }
    return { store, present, removed }
  }

  it('removes a name the plan does not ask for, and one that load-images brings, and says so', async () => {
    const dir = await tmp('lying')
    try {
      const archive = await dockerSaveTar(dir, ['registry.k8s.io/pause:3.10.1'])
      const s = lyingStore(['registry.k8s.io/coredns/coredns:v1.12.1'], ['registry.k8s.io/pause:3.10.1', 'docker.io/library/myapp:dev', 'docker.io/library/busybox:1.37', 'registry.k8s.io/etcd:3.6.5-0'])
      const warnings: string[] = []
      const wanted = new Set(['registry.k8s.io/pause:3.10.1', 'registry.k8s.io/etcd:3.6.5-0', 'docker.io/library/busybox:1.37', 'registry.k8s.io/coredns/coredns:v1.12.1'])
      const names = await importCached(s.store, archive, { wanted, users: new Set(['docker.io/library/busybox:1.37']) }, (w) => warnings.push(w), () => {})
      assert.deepEqual(names, ['registry.k8s.io/pause:3.10.1'])
      assert.deepEqual(s.removed, [['docker.io/library/myapp:dev', 'docker.io/library/busybox:1.37']])
      assert.deepEqual([...s.present].sort(), ['registry.k8s.io/coredns/coredns:v1.12.1', 'registry.k8s.io/etcd:3.6.5-0', 'registry.k8s.io/pause:3.10.1'])
      assert.equal(warnings.length, 1)
      assert.match(warnings[0], /import brought docker\.io\/library\/myapp:dev, docker\.io\/library\/busybox:1\.37, which its archive did not declare.*removed again/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('leaves an honest import alone: Docker lists a Docker Hub image under its short name as well', async () => {
    const dir = await tmp('honest')
    try {
      const archive = await dockerSaveTar(dir, ['registry.k8s.io/pause:3.10.1'])
      const s = lyingStore([], ['registry.k8s.io/pause:3.10.1', 'busybox:1.37', 'docker.io/library/busybox:1.37'])
      const warnings: string[] = []
      const wanted = new Set(['registry.k8s.io/pause:3.10.1', 'docker.io/library/busybox:1.37'])
      await importCached(s.store, archive, { wanted, users: new Set() }, (w) => warnings.push(w), () => {})
      assert.deepEqual(s.removed, [])
      assert.deepEqual(warnings, [])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
