// The Host's doers, one by one: what each records before it acts.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createRun, type Run } from '../src/host/exec.js'
import { createHost } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { underRoots } from '../src/host/changes/fields.js'
import { pathsUnder, writeRoots } from '../src/host/paths.js'
import type { ServiceManager } from '../src/host/services.js'

const services: ServiceManager = { act: async () => {}, status: async () => ({ enabled: 'disabled', active: false }), disable: async () => {}, logs: async () => '' }

async function fixture(run: Run) {
  const root = await mkdtemp(join(tmpdir(), 'ksn-host-'))
  const paths = pathsUnder(root)
  const ledger = new Ledger()
  return { root, paths, ledger, host: createHost({ run, services, ledger, ...paths, scratch: join(root, 'scratch') }) }
}

describe('host changes', () => {
  it('backs up the original once, even when two steps write the same path at the same time', async () => {
    const { paths, ledger, host } = await fixture(createRun({ debug: () => {} }))
    const file = join(paths.stateDir, 'shared.conf')
    await mkdir(paths.stateDir, { recursive: true })
    await writeFile(file, 'the original\n')
    await Promise.all([host.writeFile(file, 'first\n'), host.writeFile(file, 'second\n')])
    const records = ledger.changes.filter((c) => c.kind === 'file' && c.path === file)
    assert.equal(records.length, 1)
    const backup = records[0].kind === 'file' ? records[0].backup : undefined
    assert.ok(backup)
    assert.equal(await readFile(backup, 'utf8'), 'the original\n', 'the second writer waited for the first to keep the original')
  })

  it('makes a missing directory above every place it writes to (/opt for /opt/cni/bin), and records only those below', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksn-host-'))
    const paths = pathsUnder(root)
    const ledger = new Ledger()
    const roots = writeRoots(paths, join(root, 'home/runner'), [])
    const host = createHost({ run: createRun({ debug: () => {} }), services, ledger, ...paths, scratch: join(root, 'scratch'), undoRoots: roots })
    await host.ensureDir(paths.cniBinDir)
    assert.ok(existsSync(paths.cniBinDir))
    const dirs = ledger.changes.flatMap((c) => (c.kind === 'dir' ? [c.path.slice(root.length)] : []))
    // the temporary root's own /opt was missing too: made, and left out of the record the ledger would refuse
    assert.deepEqual(dirs, ['/opt/cni', '/opt/cni/bin'])
    assert.ok(dirs.every((d) => underRoots(join(root, d), roots)))
  })

  it('never runs two package installs at once: they would fight over the dpkg lock', async () => {
    let running = 0
    let most = 0
    const run: Run = async (argv) => {
      if (argv[0] === 'apt-get') {
        most = Math.max(most, ++running)
        await new Promise((r) => setTimeout(r, 30))
        running--
      }
      return { exitCode: 0, stdout: '', stderr: '' }
    }
    const { host, ledger } = await fixture(run)
    await Promise.all([host.installPackages(['conntrack'], () => {}), host.installPackages(['docker.io'], () => {})])
    assert.equal(most, 1)
    assert.deepEqual(ledger.changes.map((c) => c.kind === 'packages-installed' && c.packages), [['conntrack'], ['docker.io']])
  })

  /** apt-get as a fake: each install answers with the next exit code (0 once they run out); update with `update`. */
  const apt = (installs: number[], update = 0) => {
    const calls: Array<{ argv: string; env?: Record<string, string>; privileged?: boolean }> = []
    const run: Run = async (argv, opts) => {
      calls.push({ argv: argv.join(' '), env: opts?.env, privileged: opts?.privileged })
      const code = argv[1] === 'update' ? update : (installs.shift() ?? 0)
      const res = { exitCode: code, stdout: '', stderr: code ? `E: failed (${argv[1]})` : '' }
      if (code !== 0 && !opts?.allowFailure) throw new Error(`${argv.join(' ')} exited ${code}`)
      return res
    }
    return { run, calls }
  }

  it('runs apt-get update only after an install failed, then installs once more; as root, with needrestart suspended', async () => {
    const ok = apt([])
    await (await fixture(ok.run)).host.installPackages(['conntrack'], () => {})
    assert.deepEqual(ok.calls.map((c) => c.argv), ['apt-get install -y --no-install-recommends conntrack'], 'no update when the install works')
    assert.deepEqual(ok.calls[0].env, { DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_SUSPEND: '1' })
    assert.equal(ok.calls[0].privileged, true)

    const stale = apt([100])
    const lines: string[] = []
    await (await fixture(stale.run)).host.installPackages(['conntrack'], (l) => lines.push(l))
    assert.deepEqual(stale.calls.map((c) => c.argv), ['apt-get install -y --no-install-recommends conntrack', 'apt-get update', 'apt-get install -y --no-install-recommends conntrack'])
    assert.ok(stale.calls.every((c) => c.env?.NEEDRESTART_SUSPEND === '1' && c.env.DEBIAN_FRONTEND === 'noninteractive'))
    assert.match(lines.join('\n'), /apt-get install failed; refreshing the package lists: E: failed \(install\)/)
  })

  it('installs once more even when apt-get update fails (a third-party list that cannot be fetched)', async () => {
    const f = apt([100], 100)
    const lines: string[] = []
    const { host, ledger } = await fixture(f.run)
    await host.installPackages(['conntrack'], (l) => lines.push(l))
    assert.equal(f.calls.length, 3)
    assert.match(lines.join('\n'), /apt-get update exited with code 100; installing anyway/)
    assert.deepEqual(ledger.changes, [{ kind: 'packages-installed', packages: ['conntrack'] }])
  })

  it('fails on a package the run needs, and only warns on one nothing needs; neither is recorded as installed', async () => {
    const needed = await fixture(apt([100, 100]).run)
    await assert.rejects(needed.host.installPackages(['conntrack'], () => {}), /apt-get install -y --no-install-recommends conntrack` exited with code 100:\nE: failed \(install\)/)
    assert.deepEqual(needed.ledger.changes, [], 'cleanup would say "packages installed" of packages that are not')

    const optional = await fixture(apt([100, 100]).run)
    const lines: string[] = []
    await optional.host.installPackages(['socat'], (l) => lines.push(l), { optional: true })
    assert.match(lines[lines.length - 1], /^warning: socat not installed, and nothing in this run needs it: `apt-get install -y --no-install-recommends socat` exited with code 100/)
    assert.deepEqual(optional.ledger.changes, [])
  })

  it('records only the modules it loads, the sysctl values that exist, and the swap that was on', async () => {
    const ran: string[] = []
    const run: Run = async (argv) => {
      ran.push(argv.join(' '))
      const key = argv[2]
      if (argv[1] === '-n') return key === 'net.ipv4.ip_forward' ? { exitCode: 0, stdout: '0\n', stderr: '' } : { exitCode: 255, stdout: '', stderr: 'cannot stat' }
      return { exitCode: 0, stdout: '', stderr: '' }
    }
    const { host, ledger, paths } = await fixture(run)
    await mkdir(join(paths.sysModuleDir, 'overlay'), { recursive: true })
    await host.loadModules(['overlay', 'br_netfilter'])
    await host.applySysctls('/etc/sysctl.d/x.conf', ['net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables'])
    assert.deepEqual(await host.swapOff(), [], 'no /proc/swaps: nothing on, nothing to do')
    assert.deepEqual(ledger.changes, [
      { kind: 'modules-loaded', modules: ['br_netfilter'] },
      { kind: 'sysctl', values: { 'net.ipv4.ip_forward': '0' } }
    ])
    assert.ok(!ran.includes('swapoff -a'))
  })

  it('records a unit as it was before enabling or restarting it', async () => {
    const { host, ledger } = await fixture(async () => ({ exitCode: 0, stdout: '', stderr: '' }))
    await host.services.act('enable', 'kubelet')
    await host.services.act('restart', 'containerd')
    await host.services.act('reload', 'docker')
    await host.services.act('daemon-reload')
    assert.deepEqual(ledger.changes, [
      { kind: 'unit-enabled', unit: 'kubelet', was: 'disabled', wasActive: false },
      { kind: 'unit-restarted', unit: 'containerd', wasActive: false },
      { kind: 'unit-reloaded', unit: 'docker' },
      { kind: 'units-reloaded' }
    ])
  })
})
