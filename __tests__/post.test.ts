// The post step's two commands: diagnose (what explains a failure, from what exists) and
// down (the ledger undone). Undo itself is proven step by step in undo.test.ts.
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { allHints, diagnose, probes } from '../src/commands/diagnose.js'
import { down } from '../src/commands/down.js'
import { up } from '../src/commands/up.js'
import type { CommandEnv } from '../src/commands/env.js'
import { hintsFor } from '../src/engine/diagnostics.js'
import { pathsUnder } from '../src/host/paths.js'
import type { LedgerRecord, LedgerStore } from '../src/io/ledger-store.js'
import { config, onlyProbes } from './helpers/facts.js'
import { linesReporter } from './helpers/reporter.js'

function recorder() {
  const lines: string[] = []
  const ran: string[] = []
  const io = linesReporter(lines)
  let cleared = false
  const saved: LedgerRecord[] = []
  const store: LedgerStore = {
    saveHead: async () => {},
    saveChange: async () => {},
    save: async (rec) => void saved.push(rec),
    load: async () => undefined,
    clear: async () => void (cleared = true)
  }
  const env = (root: string): CommandEnv => ({
    paths: pathsUnder(root),
    run: async (argv: readonly string[]) => {
      ran.push(argv.join(' '))
      return { exitCode: argv.includes('fail-me') ? 1 : 0, stdout: `output of ${argv[0]}`, stderr: '' }
    },
    services: { act: async () => {}, status: async () => ({ enabled: 'enabled', active: true }), disable: async (u) => void ran.push(`disable ${u}`), logs: async () => '' },
    io,
    store,
    hostLedger: store,
    hostLedgerFile: join(root, 'ledger.json'),
    where: 'actions'
  })
  return { lines, ran, env, saved, cleared: () => cleared }
}

const record = (root: string, extra: Partial<LedgerRecord> = {}): LedgerRecord => ({
  changes: [],
  completed: [],
  cleanup: true,
  kubeconfig: join(root, 'home/runner/.kube/config'),
  paths: pathsUnder(root),
  runtime: 'containerd',
  cni: 'flannel',
  ...extra
})

describe('up, with a ledger from an earlier run', () => {
  it('refuses to start over changes nothing has undone yet, before changing anything', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksn-post-'))
    const r = recorder()
    const nothing = async (): Promise<never> => assert.fail('nothing may be saved')
    const ledger: LedgerStore = { saveHead: nothing, saveChange: nothing, save: nothing, load: async () => record(root, { changes: [{ kind: 'dir', path: join(root, 'x') }] }), clear: async () => {} }
    const env = { ...r.env(root), store: ledger, hostLedger: ledger, where: 'terminal' as const }
    await assert.rejects(
      up(config({ 'kubernetes-version': 'v1.34.2' }), env),
      /nothing was changed:\n {2}- An earlier run's 1 host changes are still recorded in .*ledger\.json and not undone, and input 'on-existing' is 'fail'; accepted: 'fail' .*'reset' .*'reuse' .*Or undo them first with `kubeadm-single-node down`/
    )
    assert.deepEqual(onlyProbes(r.ran), [], 'only the read-only probes ran')
  })
})

describe("up, with a kubeadm-config whose directories cleanup's reset would empty", () => {
  it('refuses certificatesDir /etc before anything changes, naming the input and the accepted places', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksn-post-'))
    const r = recorder()
    await assert.rejects(up(config({ 'kubernetes-version': 'v1.34.2', 'kubeadm-config': 'kind: ClusterConfiguration\ncertificatesDir: /etc\n' }), r.env(root)), (err: Error) => {
      assert.match(err.message, /Input 'kubeadm-config' has document 1 \(ClusterConfiguration\) certificatesDir "\/etc", a directory that cleanup's kubeadm reset empties as root; accepted: .*\/etc\/kubernetes, \/var\/lib\/etcd, \/var\/lib\/kubelet/)
      return true
    })
    assert.deepEqual(onlyProbes(r.ran), [], 'only the read-only probes ran')
    assert.equal(r.saved.length, 0, 'nothing recorded')
  })

  it("cleanup's reset takes the certificates directory from the record, and reads no ConfigMap", async () => {
    // the record a run with certificatesDir /etc/kubernetes/pki-ci made; the cluster's
    // kubeadm-config ConfigMap (which workloads could edit) is never fetched: --kubeconfig /dev/null
    const root = await mkdtemp(join(tmpdir(), 'ksn-post-'))
    const r = recorder()
    const p = pathsUnder(root)
    const rec = record(root, { changes: [{ kind: 'kubeadm-init', kubeadm: join(p.binDir, 'kubeadm'), config: join(p.stateDir, 'kubeadm.yaml'), criSocket: 'unix:///run/containerd/containerd.sock', certificatesDir: join(p.kubernetesDir, 'pki-ci') }] })
    await down(rec, r.env(root))
    assert.deepEqual(r.ran, [`${join(p.binDir, 'kubeadm')} reset --force --cri-socket unix:///run/containerd/containerd.sock --cert-dir ${join(p.kubernetesDir, 'pki-ci')} --kubeconfig /dev/null`])
  })
})

describe('post step', () => {
  it('recognises each failure signature, from the core, the runtime and the CNI', () => {
    const samples: Array<[string, RegExp]> = [
      ['rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService', /CRI plugin is disabled/],
      ['E1125 kubelet.go: "command failed" err="failed to run Kubelet: running with swap on is not supported, please disable swap"', /Swap is on/],
      ['failed to get sandbox image "registry.k8s.io/pause:3.10": failed to pull', /sandbox \(pause\) image/],
      ['E1125 main.go:278] Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-iptables: no such file', /br_netfilter is not loaded/],
      ['plugin type="flannel" failed (add): failed to find plugin "flannel" in path [/opt/cni/bin]', /No CNI plugins/],
      ['toomanyrequests: You have reached your pull rate limit', /anonymous pull limit/],
      ['kube-system coredns-7c65d6cfc9-abc 0/1 ImagePullBackOff', /coredns cannot be pulled/]
    ]
    const hints = allHints('containerd', 'flannel')
    for (const [text, hint] of samples) assert.ok(hintsFor(hints, text).some((h) => hint.test(h)), `no hint for: ${text}`)
    assert.deepEqual(hintsFor(hints, 'everything is fine'), [])
    assert.equal(hintsFor(allHints('containerd', 'none'), samples[3][0]).length, 0, "flannel's hints come with flannel")
  })

  it('diagnoses from what exists: no kubectl lines when kubectl never arrived', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksn-post-'))
    const r = recorder()
    const rec = record(root, { failed: { step: 'binaries.kubectl', message: 'Checksum mismatch for kubectl' } })
    await diagnose(rec, r.env(root))
    assert.deepEqual(r.ran, ['journalctl -u containerd -n 80 --no-pager -o cat'], 'no kubelet, kubectl or crictl yet: only the runtime, which the host has, is asked')
    assert.match(r.lines.join('\n'), /Failed step: binaries\.kubectl/)

    const bin = (n: string) => join(rec.paths.binDir, n)
    await mkdir(rec.paths.binDir, { recursive: true })
    for (const n of ['kubelet', 'kubectl', 'crictl']) {
      await writeFile(bin(n), '')
      await chmod(bin(n), 0o755)
    }
    await mkdir(join(root, 'home/runner/.kube'), { recursive: true })
    await writeFile(rec.kubeconfig, '')
    await mkdir(join(rec.paths.crictlConfig, '..'), { recursive: true })
    await writeFile(rec.paths.crictlConfig, '')
    const r2 = recorder()
    await diagnose({ ...rec, failed: { step: 'runtime.ready', message: 'unknown service runtime.v1.RuntimeService' } }, r2.env(root))
    for (const expected of [/^journalctl -u kubelet/, /^journalctl -u containerd/, /kubectl get pods -A -o wide$/, /crictl ps -a$/, /kubectl logs -n kube-flannel/]) {
      assert.ok(r2.ran.some((c) => expected.test(c)), `expected a command matching ${expected}; ran:\n${r2.ran.join('\n')}`)
    }
    assert.match(r2.lines.join('\n'), /warning: containerd's CRI plugin is disabled/)
    assert.equal(probes(rec).length, probes({ ...rec, cni: 'none' }).length + 1)
  })

  it('undoes the ledger and only the ledger, newest first, saying what it leaves in place', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksn-post-'))
    const p = pathsUnder(root)
    const r = recorder()
    const rec = record(root, {
      changes: [
        { kind: 'swap-off', devices: [] },
        { kind: 'packages-installed', packages: ['conntrack'] },
        { kind: 'file', path: p.containerdConfig, backup: join(p.backupDir, '1-config.toml') },
        { kind: 'unit-restarted', unit: 'containerd', wasActive: true },
        { kind: 'kubeadm-init', kubeadm: join(p.binDir, 'kubeadm'), config: join(p.stateDir, 'kubeadm.yaml'), criSocket: 'unix:///run/containerd/containerd.sock', certificatesDir: join(p.kubernetesDir, 'pki') }
      ]
    })
    const res = await down(rec, r.env(root))
    assert.equal(res.failed, 0)
    const tmp = `${p.containerdConfig}.kubeadm-single-node-restore`
    // kubeadm reset from the recorded configuration: the cluster's ConfigMap is never read (--kubeconfig /dev/null)
    assert.deepEqual(r.ran, [`${join(p.binDir, 'kubeadm')} reset --force --cri-socket unix:///run/containerd/containerd.sock --cert-dir ${join(p.kubernetesDir, 'pki')} --kubeconfig /dev/null`, `cp -a --remove-destination ${join(p.backupDir, '1-config.toml')} ${tmp}`, `mv -fT ${tmp} ${p.containerdConfig}`, `rm -f ${join(p.backupDir, '1-config.toml')}`, 'systemctl restart -- containerd'])
    assert.match(r.lines.join('\n'), /left in place: packages installed: conntrack/)
    assert.ok(r.cleared(), 'a complete undo clears the record')

    const failing = recorder()
    const stuck = { kind: 'dir' as const, path: 'fail-me' }
    const res2 = await down(record(root, { changes: [{ kind: 'dir', path: join(root, 'made') }, stuck] }), failing.env(root))
    assert.equal(res2.failed, 1)
    assert.match(failing.lines.join('\n'), /warning: cleanup: `rm -rf --one-file-system fail-me` exited 1/)
    assert.equal(failing.cleared(), false, 'a record with something left to undo is kept')
    assert.deepEqual(failing.saved.at(-1)?.changes, [stuck], 'only what failed is kept: a second cleanup never undoes a change twice')
  })
})
