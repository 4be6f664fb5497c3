// Every host change carries its own undo. Each step of the real plan runs against a hosted
// runner laid out in a temporary tree (real install, cp and rm; systemd, sysctl, swap and
// the kernel kept as files by the shim), then its ledger is undone, and the tree must be
// exactly as it was: with and without the user's own files where the action writes, and
// when a step fails half-way.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, readlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CNIS } from '../src/cnis/index.js'
import { RUNTIMES } from '../src/runtimes/index.js'
import { parseInputs } from '../src/inputs/parse.js'
import { orderSteps, execute } from '../src/engine/execute.js'
import type { Step } from '../src/engine/step.js'
import { createRun, type Run } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger, type Change } from '../src/host/ledger.js'
import { parseChange } from '../src/host/changes/index.js'
import { writeRoots, type Paths } from '../src/host/paths.js'
import { probeHost } from '../src/host/probe.js'
import { systemd } from '../src/host/services.js'
import { buildPlan, type Plan } from '../src/phases/index.js'
import { serve, type TestServer } from './helpers/http.js'
import { diffSnapshots, HOSTED_CONTAINERD, layRunner, releaseRoutes, shimDir, snapshot, type TreeOptions } from './helpers/host-tree.js'

const savedEnv = { ...process.env }
let server: TestServer
// one tool cache for the file: each download is verified once, then reused as on a runner
const toolCache = await mkdtemp(join(tmpdir(), 'ksn-undo-toolcache-'))

interface Sim {
  root: string
  paths: Paths
  run: Run
  plan: Plan
  cni: (typeof CNIS)['flannel' | 'calico' | 'bridge']
  /** a host over `ledger`, running commands through `run` */
  host(ledger: Ledger, run?: Run): ReturnType<typeof createHost>
  undo(changes: readonly Change[]): ReturnType<typeof undoChanges>
}

async function simulate(o: TreeOptions & { containerd?: string; cni?: 'flannel' | 'calico' | 'bridge' } = {}): Promise<Sim> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-undo-'))
  const root = join(dir, 'host')
  const paths = await layRunner(root, o)
  const shims = await shimDir(dir)
  Object.assign(process.env, {
    PATH: `${shims}:${savedEnv.PATH}`,
    SHIM_DIR: shims,
    SHIM_ROOT: root,
    SHIM_LOG: join(dir, 'shim.log'),
    SHIM_NODE_PORT: new URL(server.url).port,
    SHIM_CONTAINERD_VERSION: o.containerd ?? HOSTED_CONTAINERD,
    HOME: join(root, 'home/runner'),
    RUNNER_TEMP: join(dir, 'temp'),
    RUNNER_TOOL_CACHE: toolCache
  })
  const run = createRun({ debug: () => {} })
  const config = parseInputs(
    (n) =>
      ({
        'kubernetes-version': 'v1.34.2',
        'kubernetes-release-url': `${server.url}/release`,
        'github-url': `${server.url}/gh`,
        'registry-mirrors': 'docker.io=https://mirror.gcr.io',
        // a root-only config.toml with a token, and the runner user's Docker config.json
        'registry-credentials': 'docker.io=octocat:dckr_pat_undo:x=y',
        untaint: 'false',
        cni: o.cni ?? 'flannel'
      })[n] ?? ''
  )
  const facts = await probeHost(run, paths)
  const plan = buildPlan({ config, facts, version: 'v1.34.2', paths })
  const services = systemd(run)
  return {
    root,
    paths,
    run,
    plan,
    cni: CNIS[o.cni ?? 'flannel'],
    host: (ledger, r = run) => createHost({ run: r, services: systemd(r), ledger, ...paths }),
    undo: (changes) => undoChanges(changes, { run, services, procSwaps: paths.procSwaps, sysClassNet: paths.sysClassNet, procMounts: paths.procMounts })
  }
}

const alone = (s: Step): Step => ({ ...s, needs: [] })

/** A snapshot difference under what the CNI says it leaves (or the directories holding it). */
function fromCni(sim: Sim, line: string): boolean {
  const left = sim.cni.leftovers(sim.paths)
  const rel = (p: string): string => relative(sim.root, p)
  const roots = [...left.files, ...left.dirs, ...left.interfaces.map((i) => join(sim.paths.sysClassNet, i)), dirname(sim.paths.cniConfDir), sim.paths.cniConfDir].map(rel)
  // a CNI binary that replaced one the CNI plugins step installed; and a mount in the table
  const changed = /^changed (\S+):/.exec(line)?.[1]
  if (changed !== undefined) return roots.includes(changed) || changed === rel(sim.paths.procMounts)
  const path = /^added (\S+)/.exec(line)?.[1]
  return path !== undefined && roots.some((r) => path === r || path.startsWith(`${r}/`))
}

/** A Run that fails its `n`th command once armed, as a host command failing half-way would. */
function faulty(run: Run): { run: Run; arm(n: number): void; count(): number } {
  let armed = 0
  let seen = 0
  return {
    run: async (argv, opts) => {
      seen++
      if (armed > 0 && --armed === 0) throw new Error(`injected failure at \`${argv.join(' ')}\``)
      return run(argv, opts)
    },
    arm: (n) => {
      armed = n
      seen = 0
    },
    count: () => seen
  }
}

describe('the ledger undoes every host change', () => {
  before(async () => {
    server = await serve(await releaseRoutes())
  })
  after(async () => {
    process.env = savedEnv
    await server.close()
  })

  // commands each step runs, measured on a clean host, to fail it half-way below
  const commandsPerStep = new Map<string, number>()

  const variants = [
    { name: 'a hosted runner', userFiles: false },
    { name: "a runner with the user's own files in every place the action writes", userFiles: true },
    { name: "a self-hosted runner whose containerd is too old, beside which the action runs its own", userFiles: false, containerd: '1.6.20' },
    { name: 'a hosted runner, with calico', userFiles: false, cni: 'calico' as const },
    { name: "a runner with the user's own files, with calico", userFiles: true, cni: 'calico' as const },
    { name: "a runner with the user's own files, with the bridge CNI", userFiles: true, cni: 'bridge' as const }
  ]
  for (const variant of variants) {
    it(`each step, run then undone, leaves ${variant.name} exactly as it was; so does the whole run`, async () => {
      const sim = await simulate(variant)
      if (variant.containerd) assert.ok(sim.plan.steps.some((s) => s.id === 'runtime.containerd'), 'the plan brings its own containerd')
      assert.ok(sim.plan.steps.some((s) => s.id === 'runtime.docker-credentials'), "registry-credentials reach Docker's config.json too")
      const initial = await snapshot(sim.root)
      const whole = new Ledger()
      const counter = faulty(sim.run)
      for (const step of orderSteps(sim.plan.steps)) {
        const before = await snapshot(sim.root)
        const ledger = new Ledger()
        counter.arm(0)
        await execute([alone(step)], { host: sim.host(ledger, counter.run), learned: sim.plan.learned })
        if (!variant.userFiles && !variant.cni) commandsPerStep.set(`${variant.containerd ?? HOSTED_CONTAINERD} ${step.id}`, counter.count())
        const report = await sim.undo(ledger.changes)
        assert.deepEqual(report.failed, [], `${step.id}: undo commands failed`)
        // what the CNI leaves once it runs is recorded by init.kubeadm, before it (so that it
        // is undone after kubeadm reset): applied alone, the CNI's step leaves exactly that
        const diff = diffSnapshots(before, await snapshot(sim.root))
        assert.deepEqual(step.id === 'network.cni' ? diff.filter((l) => !fromCni(sim, l)) : diff, [], `${step.id} was not undone exactly`)
        if (step.id === 'network.cni') assert.ok(diff.length > 0, `the simulated ${variant.cni ?? 'flannel'} left its files, for init.kubeadm to record`)
        // again for real, so the next step starts where the run would have it
        await execute([alone(step)], { host: sim.host(whole), learned: sim.plan.learned })
      }
      assert.ok(whole.changes.length > 40, `the whole run recorded ${whole.changes.length} changes`)
      // read back as a later run reads the host's ledger: each record in its kind's schema, every path under the roots
      const plugins = [...Object.values(RUNTIMES), ...Object.values(CNIS)].flatMap((x) => x.hostRoots(sim.paths))
      const roots = writeRoots(sim.paths, join(sim.root, 'home/runner'), plugins)
      assert.deepEqual(whole.changes.map((c, i) => parseChange(JSON.parse(JSON.stringify(c)), i, roots)), whole.changes)
      const report = await sim.undo(whole.changes)
      assert.deepEqual(report.failed, [])
      assert.deepEqual(diffSnapshots(initial, await snapshot(sim.root)), [], 'the whole run was not undone exactly')
      const missing = /^install (.+)$/.exec(sim.plan.steps.find((s) => s.id === 'host.packages')?.title ?? '')?.[1]
      assert.deepEqual(report.leftInPlace, missing ? [`packages installed: ${missing}`] : [], 'packages are left in place, and said so')
      if (variant.userFiles) {
        assert.equal(await readFile(join(sim.paths.binDir, 'kubectl'), 'utf8'), '#!/bin/sh\necho "the user\'s own kubectl"\n')
        assert.equal(await readlink(join(sim.paths.binDir, 'crictl')), '/usr/bin/true', 'a symbolic link comes back as a link')
        assert.equal(sim.plan.kubeconfig, join(sim.root, 'home/runner/.kube/kubeadm-single-node.config'))
      }
    })
  }

  for (const containerd of [HOSTED_CONTAINERD, '1.6.20']) {
    it(`a step that fails half-way, at any step of the run, is undone as far as it got (host containerd ${containerd})`, async () => {
      const ids = orderSteps((await simulate({ containerd })).plan.steps).map((s) => s.id)
      const recovered: string[] = []
      for (const [i, failing] of ids.entries()) {
        const measured = commandsPerStep.get(`${containerd} ${failing}`)
        assert.ok(measured !== undefined, `the clean run above measured ${failing}`)
        // a step that runs no command (host.packages with nothing to install) cannot fail half-way
        if (measured === 0) continue
        const sim = await simulate({ containerd })
        const initial = await snapshot(sim.root)
        const ledger = new Ledger()
        const f = faulty(sim.run)
        const host = sim.host(ledger, f.run)
        const steps = orderSteps(sim.plan.steps)
        for (const s of steps.slice(0, i)) await execute([alone(s)], { host, learned: sim.plan.learned })
        f.arm(Math.max(1, Math.ceil(measured / 2)))
        await execute([alone(steps[i])], { host, learned: sim.plan.learned }).then(
          () => recovered.push(failing),
          (err: Error) => assert.match(err.message, /injected failure/)
        )
        const report = await sim.undo(ledger.changes)
        assert.deepEqual(report.failed, [], `${failing}: undo commands failed`)
        assert.deepEqual(diffSnapshots(initial, await snapshot(sim.root)), [], `after ${failing} failed half-way, the host was not put back`)
      }
      // the waits poll until their deadline: one failed look is not a failure
      assert.deepEqual(recovered, ['ready.cluster'])
    })
  }

  it('records what was there before it acts, and saves the ledger before each change', async () => {
    const sim = await simulate({ userFiles: true })
    const seen: string[] = []
    const ledger = new Ledger((c) => {
      // saved before the change: a created file is not there yet, a changed one still has its original
      if (c.kind === 'file' && c.path === sim.paths.containerdConfig) seen.push(`saved with config still ${JSON.stringify(readFileSync(c.path, 'utf8'))}`)
    })
    const configure = sim.plan.steps.find((s) => s.id === 'runtime.configure')!
    sim.plan.learned.kubeadmImages = ['registry.k8s.io/pause:3.10.1']
    await execute([alone(configure)], { host: sim.host(ledger), learned: sim.plan.learned })
    assert.deepEqual(seen, [`saved with config still ${JSON.stringify('# Docker\'s containerd.io default\ndisabled_plugins = ["cri"]\n')}`])
    const kinds = ledger.changes.map((c) => (c.kind === 'file' ? `file ${c.path.slice(sim.root.length)}${c.backup ? ' (backed up)' : ''}` : c.kind === 'dir' ? `dir ${c.path.slice(sim.root.length)}` : c.kind))
    assert.deepEqual(kinds, [
      'dir /var/lib/kubeadm-single-node',
      'dir /var/lib/kubeadm-single-node/backup',
      'file /etc/containerd/config.toml (backed up)',
      // registry-credentials with containerd 2.x: the kubelet's credential provider, each part recorded
      'dir /etc/kubeadm-single-node',
      'dir /etc/kubeadm-single-node/credential-provider',
      'file /etc/kubeadm-single-node/credential-provider/response.json',
      'dir /etc/kubeadm-single-node/credential-provider/bin',
      'file /etc/kubeadm-single-node/credential-provider/bin/kubeadm-single-node-registry-credentials',
      'file /etc/kubeadm-single-node/credential-provider/config.yaml',
      'file /etc/containerd/certs.d/docker.io/hosts.toml (backed up)',
      // the CRI plugin makes its CNI config directory when it starts
      'dir /etc/cni',
      'dir /etc/cni/net.d',
      'unit-restarted'
    ])
    assert.deepEqual(ledger.changes[0], { kind: 'dir', path: join(sim.root, 'var/lib/kubeadm-single-node') }, 'the backup directory is the action\'s own, and undone last')
  })
})
