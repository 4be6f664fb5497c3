// The whole main step with cni: calico and cni-version: latest, in process, against the
// simulated host of main.test.ts: the release looked up at a loopback Releases API with the
// job's token (masked before anything is logged), the manifest of that tag fetched through
// github-url and rendered, its images preloaded, calico applied after kubeadm init.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { parseAllDocuments } from 'yaml'
import { actionMain } from '../src/entry/action.js'
import { serve, type TestServer } from './helpers/http.js'
import { CALICO_MANIFEST, layRunner, releaseRoutes } from './helpers/host-tree.js'
import { inputEnv, sandbox, stateRecord } from './helpers/runner.js'

describe('main step with calico, its newest release', () => {
  let server: TestServer
  const auth: Array<string | undefined> = []
  const savedEnv = { ...process.env }
  before(async () => {
    const routes = await releaseRoutes()
    routes['/api/repos/projectcalico/calico/releases?per_page=100'] = (req: IncomingMessage, res: ServerResponse) => {
      auth.push(req.headers.authorization)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ tag_name: 'v3.33.1', draft: false, prerelease: false }, { tag_name: 'v3.32.2', draft: false, prerelease: false }]))
    }
    // the tag's manifest; the fixture's images are tagged v3.32.1 (see its header)
    routes['/gh/projectcalico/calico/raw/v3.33.1/manifests/calico.yaml'] = { body: CALICO_MANIFEST }
    server = await serve(routes)
  })
  after(async () => {
    process.env = savedEnv
    process.exitCode = undefined
    await server.close()
  })

  it('looks the release up with the masked token, fetches its manifest, preloads its images and applies it', async () => {
    const sb = await sandbox()
    const paths = await layRunner(sb.root)
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
    Object.assign(process.env, sb.env, { HOME: join(sb.root, 'home/runner'), SHIM_NODE_PORT: new URL(server.url).port, GITHUB_API_URL: `${server.url}/api`, GITHUB_SERVER_URL: server.url })
    Object.assign(process.env, inputEnv({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, cni: 'calico', 'cni-version': 'latest', 'github-token': 'ghs_job_token', 'pod-network-cidr': '10.32.0.0/16' }))
    process.exitCode = undefined
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
    const out: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => (out.push(String(chunk)), write(chunk, ...rest))) as typeof process.stdout.write
    try {
      await actionMain(paths)
    } finally {
      process.stdout.write = write
    }
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.equal(process.exitCode, undefined, summary)
    const log = out.join('')
    assert.ok(log.startsWith('::add-mask::ghs_job_token'), 'the token is masked before anything else is written')
    assert.equal(log.split('ghs_job_token').length, 2, 'and appears nowhere else in the log')
    assert.deepEqual(auth, ['token ghs_job_token'])
    assert.match(log, /cni-version' is 'latest': calico v3\.33\.1, the newest release of projectcalico\/calico/)
    assert.match(summary, /calico v3\.33\.1 \(latest\), IPv4 pool 10\.32\.0\.0\/16/)

    const cni = parseAllDocuments(await readFile(join(paths.stateDir, 'cni.yaml'), 'utf8')).map((d) => d.toJS())
    const node = cni.find((o) => o.kind === 'DaemonSet').spec.template.spec.containers[0]
    assert.equal(node.env.find((e: { name: string }) => e.name === 'CALICO_IPV4POOL_CIDR').value, '10.32.0.0/16')
    const cmds = (await readFile(sb.files.log, 'utf8')).split('\n')
    const pulled = cmds.filter((c) => / images pull --local/.test(c)).map((c) => c.split(' ').at(-1))
    for (const image of ['quay.io/calico/cni:v3.32.1', 'quay.io/calico/node:v3.32.1', 'quay.io/calico/kube-controllers:v3.32.1']) assert.ok(pulled.includes(image), `${image} preloaded, as the manifest names it`)
    const at = (re: RegExp): number => cmds.findIndex((c) => re.test(c))
    assert.ok(at(/^kubeadm init/) >= 0 && at(/^kubeadm init/) < at(/^kubectl apply -f .*cni\.yaml$/))
    // what calico-node left is in the ledger, for the post step to undo
    const rec = stateRecord(await readFile(sb.files.state, 'utf8'))
    assert.equal(rec.cni, 'calico')
    assert.ok(rec.changes.some((c: { kind: string; path?: string }) => c.kind === 'mount' && c.path === join(sb.root, 'run/calico/cgroup')))
    assert.ok(rec.changes.some((c: { kind: string; path?: string }) => c.kind === 'dir' && c.path === join(sb.root, 'var/lib/calico')))
  })
})
