// The Host's doers, one by one: what each records before it acts.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createRun, type Run } from '../src/host/exec.js'
import { createHost } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { pathsUnder } from '../src/host/paths.js'
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
