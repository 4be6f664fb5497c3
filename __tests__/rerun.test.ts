// Re-runs on a self-hosted runner: the main and post steps, in process, twice on one
// simulated host (the tree of helpers/host-tree.ts, whose kubeadm and kubectl are shims).
// The first run leaves its cluster (cleanup: false), as a self-hosted job that wants it
// later would; its ledger outlives the job in the host's root-owned file (paths.ledgerFile,
// /var/lib/kubeadm-single-node/ledger.json on a real host). Then on-existing decides:
// fail refuses before changing anything, reset replays the earlier ledger and builds
// afresh, reuse builds nothing. After the last cleanup the host must be as it was at first.
import assert from 'node:assert/strict'
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import * as core from '@actions/core'
import { actionMain, actionPost } from '../src/entry/action.js'
import { HOST_PATHS, type Paths } from '../src/host/paths.js'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import { serve, type TestServer } from './helpers/http.js'
import { diffSnapshots, layRunner, releaseRoutes, snapshot } from './helpers/host-tree.js'
import { inputEnv, parseCommandFile, sandbox, type Sandbox } from './helpers/runner.js'
import { config, onlyProbes } from './helpers/facts.js'
import { describeExisting } from '../src/commands/existing.js'


describe('re-runs on a self-hosted runner (on-existing)', () => {
  let server: TestServer
  let sb: Sandbox
  let root: string
  let paths: Paths
  const savedEnv = { ...process.env }

  before(async () => {
    // the same server answers as the local registry's /v2/ (the shim's docker runs nothing)
    server = await serve({ ...(await releaseRoutes()), '/v2/': { body: '{}' } })
  })
  after(async () => {
    process.env = savedEnv
    process.exitCode = undefined
    await server.close()
  })

  beforeEach(async () => {
    sb = await sandbox()
    root = sb.root
    paths = await layRunner(root)
  })

  const home = (): string => join(root, 'home/runner')
  const ledgerFile = (): string => paths.ledgerFile
  const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false)
  const commands = async (): Promise<string[]> => (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')

  /** A fresh job on the same machine: new Actions files and state, the same host and HOME. */
  async function job(): Promise<void> {
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
    for (const f of Object.values(sb.files)) await writeFile(f, '')
    Object.assign(process.env, sb.env, { HOME: home(), RUNNER_ENVIRONMENT: 'self-hosted', SHIM_NODE_PORT: new URL(server.url).port })
    delete process.env.XDG_STATE_HOME
    process.exitCode = undefined
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  }

  async function main(inputs: Record<string, string>): Promise<{ code: number | undefined; outputs: Record<string, string>; summary: string }> {
    Object.assign(
      process.env,
      inputEnv({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, ...inputs })
    )
    await actionMain(paths)
    return { code: process.exitCode as number | undefined, outputs: parseCommandFile(await readFile(sb.files.output, 'utf8')), summary: await readFile(sb.files.summary, 'utf8') }
  }

  /** The post step, reading the state main saved, as the runner hands it over. */
  async function post(): Promise<void> {
    // every key: the record's head, and each change under its own
    for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
    await actionPost(undefined, paths)
  }

  const hostLedger = async (): Promise<LedgerRecord> => JSON.parse(await readFile(ledgerFile(), 'utf8'))

  /** The tree against the first snapshot. */
  const changedSince = async (initial: Map<string, string>): Promise<string[]> => diffSnapshots(initial, await snapshot(root))

  /** The first job: a cluster left on the host on purpose, its ledger kept there by the post step. */
  async function firstJob(): Promise<LedgerRecord> {
    await job()
    const first = await main({ cleanup: 'false' })
    assert.equal(first.code, undefined, first.summary)
    await post()
    assert.ok(await exists(paths.adminConf), 'the first cluster is still there')
    const kept = await hostLedger()
    assert.ok(kept.finished, 'the host keeps the whole record')
    assert.ok(kept.changes.length > 30, `the host keeps every change: ${kept.changes.length}`)
    return kept
  }

  it('keeps the ledger on the host while changes are left, and removes it once a cleanup undid them all', async () => {
    const initial = await snapshot(root)
    await job()
    assert.equal((await main({ cleanup: 'true' })).code, undefined)
    const during = await hostLedger()
    assert.ok(during.changes.length > 30, 'saved on the host as the run went')
    await post()
    assert.equal(await exists(ledgerFile()), false, 'a complete cleanup leaves no ledger behind')
    assert.equal(await exists(join(ledgerFile(), '..')), false, 'nor its directory')
    assert.deepEqual(await changedSince(initial), [])
  })

  it('on-existing: fail (the default) refuses a host with an earlier cluster and ledger, changing nothing', async () => {
    const kept = await firstJob()
    await job()
    const second = await main({})
    assert.equal(second.code, 1)
    assert.match(second.summary, /An earlier run's \d+ host changes are still recorded in .*ledger\.json and not undone, and input 'on-existing' is 'fail'/)
    assert.match(second.summary, /A cluster from an earlier run is still on this host .*admin\.conf exists/)
    assert.deepEqual(onlyProbes(await commands()), [], 'only the read-only probes ran')
    assert.deepEqual(await hostLedger(), kept, "the earlier run's ledger is untouched")
    // and its post step has nothing of its own to undo: the earlier ledger is not this job's
    await post()
    assert.deepEqual(await hostLedger(), kept)
    assert.ok(await exists(paths.adminConf))
  })

  it("on-existing: reset replays the earlier run's ledger (kubeadm reset first), then builds a fresh cluster whose cleanup leaves the host as it was", async () => {
    const initial = await snapshot(root)
    const kept = await firstJob()
    // a file the earlier run wrote, and one of the host's it replaced
    assert.ok(kept.changes.some((c) => c.kind === 'file' && c.path === paths.containerdConfig && c.backup))
    await job()
    const second = await main({ 'on-existing': 'reset', cleanup: 'true', 'load-images': 'my-app:ci' })
    assert.equal(second.code, undefined, second.summary)
    const cmds = await commands()
    const at = (re: RegExp, from = 0): number => {
      const i = cmds.findIndex((c, n) => n >= from && re.test(c))
      assert.ok(i >= 0, `no command matching ${re} after ${from}:\n${cmds.join('\n')}`)
      return i
    }
    // the earlier ledger's undo, newest first (kubeadm reset, ..., swap back on, its oldest
    // change), then the host is read again and the new run turns swap off and inits
    const reset = at(/^kubeadm reset --force --cri-socket unix:\/\//)
    const swapOn = at(/^swapon \/mnt\/swapfile$/, reset)
    const reread = at(/^containerd --version$/, swapOn)
    const init = at(/^kubeadm init --config /, at(/^swapoff \/mnt\/swapfile$/, reread))
    // load-images in the fresh build: asked of Docker in the preflight, loaded once containerd serves CRI, before init
    const saved = at(/^docker save --output \S+\/ksn-load-\w+\/images\.tar docker\.io\/library\/my-app:ci$/, at(/^crictl --runtime-endpoint .* info$/, reread))
    assert.ok(at(/^docker image inspect --format \{\{\.Id\}\} docker\.io\/library\/my-app:ci$/, reread) < saved)
    assert.ok(at(/^ctr .* images import --local \S+\/images\.tar$/, saved) < init)
    assert.equal(second.outputs['node-name'], 'runnervm')
    assert.equal(second.outputs['nginx-url'], `http://127.0.0.1:${new URL(server.url).port}/`)
    // the host file now holds this run's ledger alone: the earlier one is undone
    const now = await hostLedger()
    assert.ok(now.changes.every((c) => c.kind !== 'file' || !c.backup || !kept.changes.some((k) => k.kind === 'file' && k.backup === c.backup)), 'no backup of the earlier run is reused')
    await post()
    assert.equal(await exists(ledgerFile()), false)
    assert.deepEqual(await changedSince(initial), [], 'the host is as it was before the first run')
  })

  it('on-existing: reset also resets a cluster no ledger records, with kubeadm reset', async () => {
    await mkdir(join(paths.adminConf, '..', 'manifests'), { recursive: true })
    await writeFile(paths.adminConf, 'apiVersion: v1\n')
    await job()
    const run = await main({ 'on-existing': 'reset', cleanup: 'true' })
    assert.equal(run.code, undefined, run.summary)
    const cmds = await commands()
    const reset = cmds.findIndex((c) => c === 'kubeadm reset --force')
    assert.ok(reset >= 0 && reset < cmds.findIndex((c) => /^kubeadm init/.test(c)), cmds.join('\n'))
  })

  it('on-existing: reuse builds nothing, exports the cluster already there, and adopts its ledger', async () => {
    const initial = await snapshot(root)
    const kept = await firstJob()
    await job()
    const second = await main({ 'on-existing': 'reuse', cleanup: 'false', 'load-images': 'my-app:ci' })
    assert.equal(second.code, undefined, second.summary)
    const cmds = await commands()
    assert.equal(cmds.some((c) => /^kubeadm (init|reset)|images pull|^install /.test(c)), false, `nothing built:\n${cmds.join('\n')}`)
    // but the images this job built reach the cluster it reuses
    assert.ok(cmds.some((c) => /^docker save --output .* docker\.io\/library\/my-app:ci$/.test(c)), cmds.join('\n'))
    assert.ok(cmds.some((c) => /^ctr .* --namespace k8s\.io images import --local \S+\/images\.tar$/.test(c)), cmds.join('\n'))
    assert.ok(cmds.includes('kubectl get --raw /readyz'))
    // a fresh copy of the cluster's own admin.conf, beside the earlier run's ~/.kube/config (never overwritten), never a path from the ledger
    assert.equal(second.outputs.kubeconfig, join(home(), '.kube/kubeadm-single-node.config'))
    assert.equal(await readFile(second.outputs.kubeconfig, 'utf8'), await readFile(paths.adminConf, 'utf8'))
    assert.equal(second.outputs['kubernetes-version'], 'v1.34.2')
    assert.equal(second.outputs['node-ip'], '127.0.0.1')
    assert.equal(second.outputs['nginx-url'], `http://127.0.0.1:${new URL(server.url).port}/`)
    assert.match(await readFile(sb.files.env, 'utf8'), /^KUBECONFIG<<.*\n.*\.kube\/kubeadm-single-node\.config\n/m)
    await post()
    assert.deepEqual((await hostLedger()).changes.slice(0, kept.changes.length), kept.changes, 'the adopted ledger stays on the host with cleanup: false, the new copy after it')
    // the last job reuses and cleans up: everything, the first run's cluster included
    await job()
    assert.equal((await main({ 'on-existing': 'reuse', cleanup: 'true' })).code, undefined)
    await post()
    assert.equal(await exists(ledgerFile()), false)
    assert.deepEqual(await changedSince(initial), [], 'the host is as it was before the first run')
  })

  it("on-existing: reuse gives an add-on's outputs where the earlier run turned it on and it answers, and warns where it did not", async () => {
    const port = new URL(server.url).port
    await job()
    const first = await main({ cleanup: 'false', 'local-registry': port })
    assert.equal(first.code, undefined, first.summary)
    assert.equal(first.outputs['local-registry'], `localhost:${port}`)
    await post()
    await job()
    const out: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
    let second
    try {
      second = await main({ 'on-existing': 'reuse', cleanup: 'false', 'local-registry': port, 'load-balancer': 'true' })
    } finally {
      process.stdout.write = write
    }
    assert.equal(second.code, undefined, second.summary)
    assert.equal(second.outputs['local-registry'], `localhost:${port}`)
    assert.equal(second.outputs['load-balancer-ip'], undefined)
    assert.match(out.join(''), /::warning::on-existing: reuse: load-balancer is not set up on the cluster here \(the earlier run's ledger does not name it\) and reuse builds nothing/)
    assert.doesNotMatch(out.join(''), /::warning::on-existing: reuse: local-registry/)
    assert.equal((await commands()).some((c) => /^docker run/.test(c)), false, 'reuse starts no registry')
  })

  it("a crafted ledger in the host's place stops every on-existing, naming it, and nothing in it runs", async () => {
    // what a job could leave if it could write there: root's rm -rf of /etc
    const crafted = { changes: [{ kind: 'dir', path: '/etc' }], completed: [], cleanup: false, kubeconfig: join(home(), '.kube/config'), paths, runtime: 'containerd', cni: 'flannel' }
    await mkdir(join(ledgerFile(), '..'), { recursive: true, mode: 0o700 })
    await writeFile(ledgerFile(), JSON.stringify(crafted), { mode: 0o600 })
    for (const onExisting of ['fail', 'reset', 'reuse']) {
      await job()
      const r = await main({ 'on-existing': onExisting, cleanup: 'true' })
      assert.equal(r.code, 1)
      assert.match(r.summary, /The ledger \S*ledger\.json does not hold a record this action writes: change 0 \(dir\)/)
      assert.deepEqual(onlyProbes(await commands()), [], 'only the read-only probes ran')
      assert.deepEqual(JSON.parse(await readFile(ledgerFile(), 'utf8')), crafted, 'left for the user to inspect')
    }
  })

  it('the dry run says what on-existing would do here, and where a real run would stop', async () => {
    const kept = await firstJob()
    const dry = async (inputs: Record<string, string>): Promise<string> => {
      await job()
      const out: string[] = []
      const write = process.stdout.write.bind(process.stdout)
      process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
      try {
        assert.equal((await main({ 'dry-run': 'true', ...inputs })).code, undefined)
      } finally {
        process.stdout.write = write
      }
      assert.deepEqual(onlyProbes(await commands()), [], 'a dry run changes nothing')
      return out.join('')
    }
    const reset = await dry({ 'on-existing': 'reset' })
    assert.match(reset, /::group::Already on this host \(on-existing\)\nThis host already has a cluster \(.*admin\.conf exists\) and an earlier run's \d+ host changes/)
    assert.match(reset, /on-existing: reset: the earlier run's changes are undone, newest first, as its cleanup would:\n {2}undo: .*smoke\.yaml \(created\)\n/)
    assert.match(reset, /undo: kubeadm init \(undone by kubeadm reset\)/)
    assert.match(reset, /then the host is read again and the plan below/)
    assert.doesNotMatch(reset, /A real run would stop here/)
    const fail = await dry({})
    assert.match(fail, /on-existing: fail: a real run stops here, changing nothing/)
    assert.match(fail, /::warning::A real run would stop here: An earlier run's \d+ host changes are still recorded/)
    assert.match(fail, /::warning::A real run would stop here: A cluster from an earlier run is still on this host/)
    assert.deepEqual(await hostLedger(), kept)
  })

  it('on-existing: reuse stops, changing nothing, when the cluster does not answer or runs another version', async () => {
    const kept = await firstJob()
    for (const [env, why] of [
      [{ SHIM_APISERVER_DOWN: '1' }, /does not answer: `kubectl get --raw \/readyz` exited 1: The connection to the server 127\.0\.0\.1:6443 was refused.*Set on-existing: reset/],
      [{ SHIM_SERVER_VERSION: 'v1.33.4' }, /runs v1\.33\.4, but kubernetes-version asks for v1\.34\.2\. Nothing was changed\. Set on-existing: reset/],
      // images for containerd's store would not reach a kubelet on Docker
      [{ SHIM_NODE_RUNTIME: 'docker://28.0.4' }, /runs on docker, but container-runtime is 'containerd', so load-images would go where the kubelet does not look\. Nothing was changed/]
    ] as const) {
      await job()
      Object.assign(process.env, env)
      const r = await main({ 'on-existing': 'reuse', ...('SHIM_NODE_RUNTIME' in env ? { 'load-images': 'my-app:ci' } : {}) })
      for (const k of Object.keys(env)) delete process.env[k]
      assert.equal(r.code, 1)
      assert.match(r.summary, why)
      assert.deepEqual(await hostLedger(), kept)
    }
  })
})

describe("on-existing's dry run", () => {
  it('says "left in place", not "undo", for what cleanup never removes (packages, kernel modules)', () => {
    const earlier: LedgerRecord = {
      changes: [
        { kind: 'packages-installed', packages: ['conntrack'] },
        { kind: 'modules-loaded', modules: ['br_netfilter'] },
        { kind: 'dir', path: HOST_PATHS.stateDir }
      ],
      completed: [],
      cleanup: false,
      kubeconfig: '/home/runner/.kube/config',
      paths: HOST_PATHS,
      runtime: 'containerd',
      cni: 'flannel'
    }
    const lines = describeExisting(config({ 'on-existing': 'reset' }), { cluster: false, earlier }, HOST_PATHS, HOST_PATHS.ledgerFile).join('\n')
    assert.match(lines, /^ {2}undo: \/etc\/kubeadm-single-node\/ \(created\)$/m)
    assert.match(lines, /^ {2}left in place: kernel modules loaded: br_netfilter$/m)
    assert.match(lines, /^ {2}left in place: packages installed: conntrack$/m)
    assert.doesNotMatch(lines, /undo: packages installed/)
  })
})
