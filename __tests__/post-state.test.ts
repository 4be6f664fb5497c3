// The post step's record comes from the Actions state, which the runner hands over as STATE_*
// variables among the job's environment: an earlier step can add to it through GITHUB_ENV
// (the runner overrides only the keys the action saved). So the post step reads exactly as
// many changes as main counted, and the record passes the host ledger's schema, roots and
// layout checks; one that does not is refused whole, with an error, and nothing runs.
// The process is root here and runs no sudo: every command it runs would run as root, so the
// file commands are shimmed too (logged, never run), and "nothing ran" is an empty log.
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import * as core from '@actions/core'
import { directoryCache, type CacheBackend } from '../src/cache/backend.js'
import { actionPost } from '../src/entry/action.js'
import { HOST_PATHS, pathsUnder, type Paths } from '../src/host/paths.js'
import { parseStateRecord, type StateRecordOptions } from '../src/io/host-ledger.js'
import { actionsStateStore, claimActionsState, headOf, type LedgerRecord } from '../src/io/ledger-store.js'
import { diffSnapshots, layRunner, snapshot } from './helpers/host-tree.js'
import { parseCommandFile, sandbox, type Sandbox } from './helpers/runner.js'

// root's file commands: what a planted change would make root run, here only logged
const FILE_COMMANDS = ['rm', 'rmdir', 'cp', 'mv', 'install', 'chown', 'tar', 'stat', 'cat']

describe('the post step, over a record planted in the Actions state', () => {
  const savedEnv = { ...process.env }
  const write = process.stdout.write.bind(process.stdout)
  let out = ''
  let sb: Sandbox
  let paths: Paths
  let cache: CacheBackend

  beforeEach(async () => {
    sb = await sandbox()
    for (const name of FILE_COMMANDS) await symlink(join(sb.shimDir, '.shim.sh'), join(sb.shimDir, name))
    paths = await layRunner(sb.root)
    cache = directoryCache(join(sb.dir, 'cache'), join(sb.dir, 'temp/kubeadm-single-node-cache'))
    for (const k of Object.keys(process.env)) if (k.startsWith('STATE_') || k.startsWith('INPUT_')) delete process.env[k]
    Object.assign(process.env, sb.env)
    process.exitCode = undefined
    out = ''
    process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write
  })
  afterEach(() => {
    process.stdout.write = write
  })
  after(() => {
    process.env = savedEnv
    process.exitCode = undefined
  })

  const record = (extra: Partial<LedgerRecord> = {}): LedgerRecord => ({
    changes: [],
    completed: ['host.kernel'],
    finished: true,
    cleanup: true,
    kubeconfig: join(sb.env.HOME, '.kube/config'),
    paths,
    runtime: 'containerd',
    cni: 'flannel',
    ...extra
  })

  /** What main saves, as it saves it (its first save, the head, each change), handed to the post step as the runner does. */
  async function mainSaved(rec: LedgerRecord): Promise<void> {
    claimActionsState()
    const store = actionsStateStore(async () => assert.fail('main never loads'))
    await store.saveHead(headOf(rec))
    for (const [i, c] of rec.changes.entries()) await store.saveChange(i, c)
    for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
  }

  const commands = async (): Promise<string[]> => (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')

  it("ignores a change key planted past main's count (dir /etc), and undoes only main's changes", async () => {
    const made = join(paths.stateDir, 'made')
    await mkdir(made, { recursive: true })
    await mainSaved(record({ changes: [{ kind: 'dir', path: made }] }))
    // an earlier step: echo 'STATE_kubeadm-single-node-change-1={...}' >> "$GITHUB_ENV"
    process.env['STATE_kubeadm-single-node-change-1'] = JSON.stringify({ kind: 'dir', path: '/etc' })
    // and one the schema would take: only the count keeps it out
    process.env['STATE_kubeadm-single-node-change-2'] = JSON.stringify({ kind: 'dir', path: paths.kubeletDir })
    await actionPost(cache, paths)
    const ran = await commands()
    assert.doesNotMatch(out, /::error/, out)
    assert.ok(ran.includes(`rm -rf --one-file-system ${made}`), `main's own change is undone:\n${ran.join('\n')}`)
    assert.deepEqual(ran.filter((c) => /\/etc(\s|$)|var\/lib\/kubelet/.test(c)), [], 'neither planted change is undone')
    assert.match(out, /Cleanup: 1 changes undone/)
  })

  it('refuses a whole head planted where main saved none, running nothing', async () => {
    process.env['STATE_kubeadm-single-node'] = JSON.stringify(record({ changes: [{ kind: 'dir', path: '/etc' }] }))
    await actionPost(cache, paths)
    assert.deepEqual(await commands(), [], 'nothing ran')
    assert.match(out, /::error title=kubeadm-single-node post step::The post step refused the run record in the Actions state: it does not hold a record this action writes: change 0 \(dir\): field 'path' names "\/etc", which is not a normal absolute path under the places the action writes to/)
    assert.match(out, /Nothing was diagnosed, saved, uploaded or undone\. .*GITHUB_ENV: look for one that does, and remove it\. .*node dist\/cli\.js down/)
    assert.equal(process.exitCode, undefined, 'the post step never fails the job')
  })

  it("refuses a record whose paths are not this host's, running nothing", async () => {
    const other = pathsUnder(join(sb.dir, 'elsewhere'))
    process.env['STATE_kubeadm-single-node'] = JSON.stringify(record({ paths: other, changes: [{ kind: 'dir', path: paths.kubeletDir }] }))
    await actionPost(cache, paths)
    assert.deepEqual(await commands(), [], 'nothing ran')
    assert.match(out, /::error title=kubeadm-single-node post step::The post step refused the run record in the Actions state: it does not hold a record this action writes: field 'paths' is not this host's layout/)
  })

  it('refuses a count with no change behind it, and a head that is not JSON', async () => {
    await mainSaved(record())
    process.env['STATE_kubeadm-single-node-changes'] = '1'
    await actionPost(cache, paths)
    assert.match(out, /::error title=kubeadm-single-node post step::.*it counts 1 changes, and change 0 is missing/)
    out = ''
    process.env['STATE_kubeadm-single-node'] = '{"changes": ['
    await actionPost(cache, paths)
    assert.match(out, /::error title=kubeadm-single-node post step::.*it is not JSON/)
    assert.deepEqual(await commands(), [], 'nothing ran')
  })

  it('has nothing to do where main saved no record (its inputs were invalid): its first save is what the runner hands over', async () => {
    claimActionsState()
    for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
    await actionPost(cache, paths)
    assert.match(out, /Nothing to diagnose or clean up/)
    assert.deepEqual(await commands(), [])
  })
})

// A record main left, as the runner hands it over (head and changes), on a test's tree: what
// the post step does with one that passes. The file commands are the real ones here.
describe('the post step, over the record main left', () => {
  const savedEnv = { ...process.env }
  const write = process.stdout.write.bind(process.stdout)
  let out = ''
  let sb: Sandbox
  let paths: Paths
  let cache: CacheBackend

  beforeEach(async () => {
    sb = await sandbox()
    paths = await layRunner(sb.root)
    cache = directoryCache(join(sb.dir, 'cache'), join(sb.dir, 'temp/kubeadm-single-node-cache'))
    for (const k of Object.keys(process.env)) if (k.startsWith('STATE_') || k.startsWith('INPUT_')) delete process.env[k]
    Object.assign(process.env, sb.env)
    process.exitCode = undefined
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
    out = ''
    process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write
  })
  afterEach(() => {
    process.stdout.write = write
  })
  after(() => {
    process.env = savedEnv
    process.exitCode = undefined
  })

  async function post(rec: LedgerRecord): Promise<{ commands: string[]; summary: string }> {
    claimActionsState()
    const store = actionsStateStore(async () => assert.fail('main never loads'))
    await store.saveHead(headOf(rec))
    for (const [i, c] of rec.changes.entries()) await store.saveChange(i, c)
    for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
    await actionPost(cache, paths)
    assert.equal(process.exitCode, undefined, 'the post step never fails the job')
    return { commands: (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== ''), summary: await readFile(sb.files.summary, 'utf8') }
  }

  it('after a main step that never finished (cancelled, timed out) still shows diagnostics', async () => {
    await post({ changes: [], completed: ['host.kernel'], cleanup: false, kubeconfig: join(sb.env.HOME, '.kube/config'), paths, runtime: 'containerd', cni: 'flannel' })
    assert.doesNotMatch(out, /::error/, out)
    assert.match(out, /::group::Diagnostics/)
    assert.match(out, /The main step did not finish: the job was cancelled or timed out while it ran/)
  })

  it('after a failure shows diagnostics and hints, undoes the ledger where asked, and never fails the job', async () => {
    const before = await snapshot(sb.root)
    // what a main step that failed at runtime.ready had recorded, and done
    const config = paths.containerdConfig
    const backup = join(paths.backupDir, '1-config.toml')
    await mkdir(paths.backupDir, { recursive: true })
    await cp(config, backup, { preserveTimestamps: true })
    await writeFile(config, 'version = 3\n')
    await mkdir(join(paths.kubeletDir), { recursive: true })
    const r = await post({
      changes: [
        { kind: 'dir', path: join(sb.root, 'var/lib/kubeadm-single-node') },
        { kind: 'file', path: config, backup },
        { kind: 'unit-restarted', unit: 'containerd', wasActive: true },
        { kind: 'dir', path: paths.kubeletDir }
      ],
      completed: ['host.kernel', 'runtime.configure'],
      failed: { step: 'runtime.ready', message: 'runtime: wait until containerd serves CRI failed: rpc error: unknown service runtime.v1.RuntimeService' },
      cleanup: true,
      kubeconfig: join(sb.env.HOME, '.kube/config'),
      paths,
      runtime: 'containerd',
      cni: 'flannel'
    })
    assert.doesNotMatch(out, /::error/, out)
    assert.match(out, /::group::Diagnostics/)
    assert.match(out, /Failed step: runtime\.ready/)
    assert.match(out, /::warning title=kubeadm-single-node hint::containerd's CRI plugin is disabled/)
    assert.match(r.summary, /kubeadm-single-node failed/)
    assert.match(r.summary, /containerd journal/)
    assert.equal(r.commands.some((c) => /kubectl/.test(c)), false, 'kubectl never arrived: no kubectl diagnostics')
    assert.match(out, /::group::Cleanup: 4 changes undone/)
    assert.ok(r.commands.includes('systemctl restart -- containerd'), 'containerd restarted with its original config')
    assert.deepEqual(diffSnapshots(before, await snapshot(sb.root)), [], 'the host is as it was before the main step')
  })
})

describe("the state record's own fields", () => {
  const paths = pathsUnder('/tmp/ksn-state-fields')
  const o: StateRecordOptions = { paths, home: '/home/runner', known: { runtimes: ['containerd', 'docker'], cnis: ['flannel'], addons: [] }, cacheDir: '/tmp/ksn-state-fields/cache-work' }
  const base = { changes: [], completed: [], cleanup: true, kubeconfig: '/home/runner/.kube/config', paths, runtime: 'containerd', cni: 'flannel' }
  const cache = { dir: o.cacheDir, key: 'kubeadm-single-node-1-linux-amd64-v1.34.2-containerd-0123456789abcdef', exact: false, images: ['registry.k8s.io/pause:3.10.1'], runtime: 'containerd', store: { own: false, containerdMajor: 2 } }

  it('takes what main writes', async () => {
    const r = await parseStateRecord({ ...base, cache, diagnosticsArtifact: 'always' }, o)
    assert.deepEqual(r.cache, cache)
    assert.equal(r.diagnosticsArtifact, 'always')
    assert.deepEqual(await parseStateRecord({ ...base, paths: HOST_PATHS, kubeconfig: '/home/runner/.kube/config' }, { ...o, paths: HOST_PATHS }).then((x) => x.paths), HOST_PATHS)
  })

  for (const [what, extra, message] of [
    ['a cache directory elsewhere (root exports into it)', { cache: { ...cache, dir: '/etc' } }, /field 'cache' names the directory "\/etc"; accepted: the cache's working directory/],
    ['an image that is an option', { cache: { ...cache, images: ['--output=/etc/shadow'] } }, /field 'cache' has 'images'/],
    ['a runtime the action lacks', { cache: { ...cache, runtime: 'podman' } }, /field 'cache' has 'runtime' "podman"/],
    ['a store with fields it never writes', { cache: { ...cache, store: { address: '/run/x.sock' } } }, /field 'cache' has 'store'/],
    ['a cache field it never writes', { cache: { ...cache, command: 'x' } }, /field 'cache' has field the action never writes: command/],
    ['a diagnostics-artifact value there is not', { diagnosticsArtifact: 'sometimes' }, /field 'diagnosticsArtifact' is "sometimes"; accepted: on-failure, always, never/]
  ] as const) {
    it(`refuses ${what}`, async () => {
      await assert.rejects(parseStateRecord({ ...base, ...extra }, o), message)
    })
  }
})
