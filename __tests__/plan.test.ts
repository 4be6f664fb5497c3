import assert from 'node:assert/strict'
import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { parseAllDocuments } from 'yaml'
import type { Host } from '../src/host/host.js'
import { HOST_PATHS } from '../src/paths.js'
import { orderSteps, phaseTimings, renderPlan, runPlan, StepError, writePlanTree, type Step } from '../src/plan.js'
import { buildPlan, hostProblems } from '../src/steps.js'
import type { RunState } from '../src/state.js'
import { config, hostedRunner } from './helpers/facts.js'

const noHost = {} as Host
const state = (): RunState => ({ version: 'v1.34.2', kubeadmImages: [], cniImages: [] })
const task = (id: string, needs: string[], run: () => Promise<void>, phase: Step['phase'] = 'host'): Step => ({
  id,
  phase,
  title: id,
  needs,
  ops: [{ kind: 'task', title: id, shows: [], run }]
})

/** Resolves once `n` parties have arrived; rejects after a while so a serial executor fails instead of hanging. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return async () => {
    if (++arrived === n) open()
    await Promise.race([opened, new Promise((_, reject) => setTimeout(() => reject(new Error('steps did not run concurrently')), 2000))])
  }
}

describe('plan executor', () => {
  it('runs independent steps at the same time and dependent ones after', async () => {
    const meet = barrier(3)
    const order: string[] = []
    const timings = await runPlan(
      [
        task('a', [], async () => { await meet(); order.push('a') }),
        task('b', [], async () => { await meet(); order.push('b') }),
        task('c', [], async () => { await meet(); order.push('c') }),
        task('d', ['a', 'b'], async () => void order.push('d'), 'init')
      ],
      { host: noHost, state: state() }
    )
    assert.equal(order.at(-1), 'd')
    assert.equal(timings.length, 4)
    const d = timings.find((t) => t.id === 'd')!
    for (const id of ['a', 'b']) assert.ok(timings.find((t) => t.id === id)!.end <= d.start)
    assert.deepEqual(phaseTimings(timings).map((p) => p.phase), ['host', 'init'])
  })

  it('starts nothing new after a failure and reports the failing step', async () => {
    const ran: string[] = []
    await assert.rejects(
      runPlan(
        [
          task('boom', [], async () => { throw new Error('disk full') }),
          task('after', ['boom'], async () => void ran.push('after')),
          task('slow', [], async () => { await new Promise((r) => setTimeout(r, 50)); ran.push('slow') })
        ],
        { host: noHost, state: state() }
      ),
      (err: Error) => {
        assert.ok(err instanceof StepError)
        assert.equal(err.step.id, 'boom')
        assert.match(err.message, /^host: boom failed: disk full$/)
        return true
      }
    )
    assert.deepEqual(ran, ['slow'], 'running steps finish; dependents never start')
  })

  it('refuses unknown needs and cycles before running anything', async () => {
    let ran = false
    const mark = async (): Promise<void> => void (ran = true)
    await assert.rejects(runPlan([task('a', ['nope'], mark)], { host: noHost, state: state() }), /needs unknown step nope/)
    assert.throws(() => orderSteps([task('a', ['b'], mark), task('b', ['a'], mark)]), /dependency cycle among: a, b/)
    assert.equal(ran, false)
  })
})

describe('the action plan', () => {
  const build = (inputs: Record<string, string> = {}, facts = hostedRunner) =>
    buildPlan({ config: config(inputs), facts, version: 'v1.34.2', paths: HOST_PATHS })
  const byId = (steps: Step[]) => new Map(steps.map((s) => [s.id, s]))

  it('has init wait for host, runtime, images and kubelet, and lets downloads start at once', () => {
    const { steps } = build()
    const s = byId(steps)
    for (const n of ['host.swap', 'host.kernel', 'runtime.cri', 'images.preload', 'binaries.kubelet-unit', 'binaries.cni', 'init.config']) {
      assert.ok(s.get('init.kubeadm')!.needs.includes(n), `init.kubeadm needs ${n}`)
    }
    for (const id of ['binaries.kubeadm', 'binaries.kubelet', 'binaries.kubectl', 'binaries.crictl', 'binaries.cni', 'host.kernel', 'images.cni']) {
      assert.deepEqual(s.get(id)!.needs, [], `${id} starts at once`)
    }
    // the smoke Deployment is created as soon as the API answers, overlapping the CNI rollout
    assert.deepEqual(s.get('smoke.deploy')!.needs, ['init.kubeconfig'])
    assert.deepEqual(s.get('smoke.check')!.needs.sort(), ['ready.cluster', 'smoke.deploy'])
    assert.equal(s.has('runtime.docker'), false, 'Docker is present on hosted runners: not reinstalled')
    assert.equal(s.has('host.packages'), false)
    orderSteps(steps)
  })

  it('makes every step wait for the binaries it runs', () => {
    const { steps } = build()
    const s = byId(steps)
    const upstream = (id: string, seen = new Set<string>()): Set<string> => {
      for (const n of s.get(id)!.needs) if (!seen.has(n)) upstream(n, seen.add(n))
      return seen
    }
    for (const id of ['network.cni', 'ready.cluster', 'smoke.deploy', 'smoke.check']) assert.ok(upstream(id).has('binaries.kubectl'), `${id} runs kubectl`)
    for (const id of ['images.list', 'init.kubeadm']) assert.ok(upstream(id).has('binaries.kubeadm'), `${id} runs kubeadm`)
    assert.ok(upstream('runtime.cri').has('binaries.crictl'))
    assert.ok(upstream('init.kubeadm').has('binaries.kubelet-unit'))
    assert.ok(upstream('network.cni').has('images.cni'))
  })

  it('learns the containerd major from the Docker install when it had none to probe', () => {
    const plan = build({}, { ...hostedRunner, docker: false, containerd: undefined })
    const op = byId(plan.steps).get('runtime.containerd')!.ops.find((o) => o.kind === 'write')!
    assert.ok(op.kind === 'write')
    assert.equal(plan.state.containerdMajor, undefined)
    assert.match(op.render({ ...plan.state, containerdMajor: 1 }), /^version = 2$/m)
    assert.match(op.render({ ...plan.state, containerdMajor: 2 }), /^version = 3$/m)
  })

  it('installs Docker and missing packages only where they are missing', () => {
    const s = byId(build({}, { ...hostedRunner, docker: false, containerd: undefined, missingPackages: ['conntrack'], swapOn: false }).steps)
    assert.ok(s.has('runtime.docker'))
    assert.ok(s.get('runtime.containerd')!.needs.includes('runtime.docker'))
    assert.ok(s.has('host.packages'))
    assert.equal(s.has('host.swap'), false)
  })

  it("renders containerd's config for the detected major, with kubeadm's pause image", () => {
    const render = (facts = hostedRunner, inputs = {}) => {
      const plan = build(inputs, facts)
      const op = byId(plan.steps).get('runtime.containerd')!.ops.find((o) => o.kind === 'write' && o.path === HOST_PATHS.containerdConfig)
      assert.ok(op && op.kind === 'write')
      return parseToml(op.render(plan.state)) as any
    }
    assert.equal(render().plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.k8s.io/pause:3.10.1')
    assert.equal(render({ ...hostedRunner, containerd: { version: '1.7.27', major: 1 } }).version, 2)
    const mirror = render(hostedRunner, { 'image-repository': 'registry.aliyuncs.com/google_containers' })
    assert.equal(mirror.plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.aliyuncs.com/google_containers/pause:3.10.1')
  })

  it('renders what kubeadm later says, not the prediction', () => {
    const plan = build()
    const op = byId(plan.steps).get('runtime.containerd')!.ops.find((o) => o.kind === 'write')!
    assert.ok(op.kind === 'write')
    const learned = { ...plan.state, kubeadmImages: ['registry.k8s.io/pause:9.9'] }
    assert.match(op.render(learned), /sandbox = "registry\.k8s\.io\/pause:9\.9"/)
  })

  it('writes a hosts.toml per mirrored registry and Docker mirrors for docker.io', () => {
    const s = byId(build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io\nghcr.io=https://ghcr.m.daocloud.io' }).steps)
    const paths = s.get('runtime.containerd')!.ops.flatMap((o) => (o.kind === 'write' ? [o.path] : []))
    assert.ok(paths.includes('/etc/containerd/certs.d/docker.io/hosts.toml'))
    assert.ok(paths.includes('/etc/containerd/certs.d/ghcr.io/hosts.toml'))
    const docker = s.get('runtime.docker-mirrors')!
    const op = docker.ops.find((o) => o.kind === 'write')!
    assert.ok(op.kind === 'write')
    const json = JSON.parse(op.render({} as RunState))
    assert.deepEqual(json['registry-mirrors'], ['https://mirror.gcr.io'])
    assert.equal(json['cgroup-parent'], '/actions_job', "the runner's own daemon.json keys survive")
  })

  it("never overwrites the runner user's own kubeconfig", () => {
    const plan = build({}, { ...hostedRunner, kubeconfigExists: true })
    assert.equal(plan.kubeconfig, '/home/runner/.kube/kubeadm-single-node.config')
    assert.match(plan.notes[0], /~\/\.kube\/config already exists and is left alone/)
    assert.equal(build().kubeconfig, '/home/runner/.kube/config')
    const apply = byId(plan.steps).get('network.cni')!.ops[0]
    assert.deepEqual(apply.kind === 'exec' && apply.env, { KUBECONFIG: '/home/runner/.kube/kubeadm-single-node.config' })
  })

  it("backs up Docker's daemon.json once before merging mirrors into it", () => {
    const s = byId(build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }).steps)
    const op = s.get('runtime.docker-mirrors')!.ops[0]
    assert.deepEqual(op.kind === 'exec' && op.argv, ['cp', '-n', '-p', '/etc/docker/daemon.json', '/etc/docker/daemon.json.kubeadm-single-node.bak'])
    const fresh = byId(build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }, { ...hostedRunner, daemonJsonExists: false, daemonJson: undefined }).steps)
    assert.equal(fresh.get('runtime.docker-mirrors')!.ops[0].kind, 'write')
  })

  it('backs up an existing containerd config once and never overwrites the backup', () => {
    const op = byId(build().steps).get('runtime.containerd')!.ops[0]
    assert.deepEqual(op.kind === 'exec' && op.argv, ['cp', '-n', '-p', '/etc/containerd/config.toml', '/etc/containerd/config.toml.kubeadm-single-node.bak'])
  })

  it("with cni 'none' skips flannel and the smoke test, saying why", () => {
    const plan = build({ cni: 'none' })
    const s = byId(plan.steps)
    assert.equal(s.has('images.cni') || s.has('network.cni') || s.has('smoke.check'), false)
    assert.match(plan.notes[0], /smoke-test skipped/)
    assert.equal(build({ 'smoke-test': 'false' }).steps.some((st) => st.phase === 'smoke'), false)
  })

  it('passes shell metacharacters through as single argv elements', () => {
    const plan = build({ 'preload-images': 'docker.io/library/busybox:1.36' , 'cni-manifest': '/tmp/a;b $(x).yml' })
    const text = renderPlan(plan.steps, plan.state)
    assert.match(text, /read \/tmp\/a;b \$\(x\)\.yml/)
    for (const step of plan.steps) for (const op of step.ops) if (op.kind === 'exec') assert.ok(op.argv.every((a) => typeof a === 'string'))
  })

  it('plans a minor the image table does not know, leaving the names to kubeadm', () => {
    const plan = buildPlan({ config: config(), facts: hostedRunner, version: 'v1.40.0', paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.state)
    assert.match(text, /sandbox = "registry\.k8s\.io\/pause:<asked of kubeadm at run time>"/)
    assert.match(text, /and each of kubeadm's own images, <asked of kubeadm at run time>/)
    assert.match(text, /images pull --local --hosts-dir \/etc\/containerd\/certs\.d ghcr\.io\/flannel-io\/flannel:v0\.28\.4/)
  })

  it('flags hosts that cannot run the cluster before changing anything', () => {
    assert.deepEqual(hostProblems(config(), hostedRunner, 'v1.34.2'), [])
    assert.match(hostProblems(config(), { ...hostedRunner, cpus: 1 }, 'v1.34.2')[0], /at least 2 CPUs/)
    assert.match(hostProblems(config(), { ...hostedRunner, containerd: { version: '1.7.27', major: 1 } }, 'v1.36.0')[0], /containerd 2\.2 or newer/)
    assert.match(hostProblems(config(), { ...hostedRunner, existingCluster: true }, 'v1.34.2')[0], /A cluster from an earlier run is still on this host.*kubeadm reset --force/)
    const broken = { ...hostedRunner, daemonJsonExists: true, daemonJson: undefined }
    assert.match(hostProblems(config({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }), broken, 'v1.34.2')[0], /daemon\.json is not valid JSON/)
    assert.deepEqual(hostProblems(config(), broken, 'v1.34.2'), [], 'only a problem when there are docker.io mirrors to merge')
  })

  it('writes the plan as a directory tree: files at their host paths, plan.txt, plan.json', async () => {
    const plan = build()
    const root = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    const written = await writePlanTree(plan.steps, plan.state, root)
    assert.ok(written.includes('/etc/containerd/config.toml'))
    const kubeadm = parseAllDocuments(await readFile(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'), 'utf8')).map((d) => d.toJS())
    assert.equal(kubeadm[1].kubernetesVersion, 'v1.34.2')
    assert.equal((await stat(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'))).mode & 0o777, 0o600)
    const json = JSON.parse(await readFile(join(root, 'plan.json'), 'utf8'))
    assert.deepEqual(json.map((s: { id: string }) => s.id), orderSteps(plan.steps).map((s) => s.id))
    const text = await readFile(join(root, 'plan.txt'), 'utf8')
    assert.match(text, /kubeadm init --config \/etc\/kubeadm-single-node\/kubeadm\.yaml/)
  })
})
