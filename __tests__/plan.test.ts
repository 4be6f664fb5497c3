import assert from 'node:assert/strict'
import { mkdtemp, readFile, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { parseAllDocuments } from 'yaml'
import { planTreeProblem, renderPlan, writePlanTree } from '../src/engine/describe.js'
import { execute, orderSteps, phaseTimings } from '../src/engine/execute.js'
import type { Learned } from '../src/engine/learned.js'
import { PHASES, StepError, type Step, type StepId } from '../src/engine/step.js'
import type { Host } from '../src/host/host.js'
import { HOST_PATHS } from '../src/host/paths.js'
import type { ImageStore } from '../src/images/store.js'
import { planContext } from '../src/phases/context.js'
import { imageSteps, preloadSet } from '../src/phases/images.js'
import { buildPlan, seedLearned } from '../src/phases/index.js'
import { hostProblems } from '../src/preflight/preflight.js'
import { config, hostedRunner } from './helpers/facts.js'

const noHost = {} as Host
const learned = (): Learned => ({ kubeadmImages: [], kubeadmApi: 'kubeadm.k8s.io/v1beta4', cniImages: [] })
// the executor is generic: these tests give it made-up ids
const task = (id: string, needs: string[], run: () => Promise<void>, phase: Step['phase'] = 'host'): Step => ({
  id: id as StepId,
  phase,
  title: id,
  needs: needs as StepId[],
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
    const timings = await execute(
      [
        task('a', [], async () => { await meet(); order.push('a') }),
        task('b', [], async () => { await meet(); order.push('b') }),
        task('c', [], async () => { await meet(); order.push('c') }),
        task('d', ['a', 'b'], async () => void order.push('d'), 'init')
      ],
      { host: noHost, learned: learned() }
    )
    assert.equal(order.at(-1), 'd')
    assert.equal(timings.length, 4)
    const at = (id: string) => timings.find((t) => t.id === (id as StepId))!
    const d = at('d')
    for (const id of ['a', 'b']) assert.ok(at(id).end <= d.start)
    assert.deepEqual(phaseTimings(timings).map((p) => p.phase), ['host', 'init'])
  })

  it('starts nothing new after a failure and reports the failing step', async () => {
    const ran: string[] = []
    await assert.rejects(
      execute(
        [
          task('boom', [], async () => { throw new Error('disk full') }),
          task('after', ['boom'], async () => void ran.push('after')),
          task('slow', [], async () => { await new Promise((r) => setTimeout(r, 50)); ran.push('slow') })
        ],
        { host: noHost, learned: learned() }
      ),
      (err: unknown) => {
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
    await assert.rejects(execute([task('a', ['nope'], mark)], { host: noHost, learned: learned() }), /needs unknown step nope/)
    assert.throws(() => orderSteps([task('a', ['b'], mark), task('b', ['a'], mark)]), /dependency cycle among: a, b/)
    assert.equal(ran, false)
  })
})

describe('the action plan', () => {
  const build = (inputs: Record<string, string> = {}, facts = hostedRunner) => buildPlan({ config: config(inputs), facts, version: 'v1.34.2', paths: HOST_PATHS })
  const byId = (steps: Step[]) => new Map(steps.map((s) => [s.id, s]))
  const writeOp = (step: Step, path: string) => {
    const op = step.ops.find((o) => o.kind === 'write' && o.path === path)
    assert.ok(op && op.kind === 'write', `${step.id} writes ${path}`)
    return op
  }
  const everyPlan = () => [
    build(),
    build({ cni: 'none' }),
    build({ cni: 'bridge', 'container-runtime': 'docker' }),
    build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }, { ...hostedRunner, docker: false, containerd: undefined, missingPackages: ['conntrack'] })
  ]

  it('runs its phases forward: no step needs a step of a later phase', () => {
    for (const plan of everyPlan()) {
      const s = byId(plan.steps)
      assert.equal(s.size, plan.steps.length, 'no two steps share an id')
      for (const step of plan.steps) {
        assert.equal(step.phase, step.id.split('.')[0], `${step.id} is in the phase its id names`)
        for (const n of step.needs) {
          assert.ok(PHASES.indexOf(s.get(n)!.phase) <= PHASES.indexOf(step.phase), `${step.id} (${step.phase}) needs ${n} of a later phase`)
        }
      }
      orderSteps(plan.steps)
    }
  })

  it('has init wait for host, runtime, images and kubelet, and lets downloads start at once', () => {
    const s = byId(build().steps)
    for (const n of ['host.swap', 'host.kernel', 'runtime.ready', 'images.preload', 'binaries.kubelet-unit', 'binaries.cni-plugins', 'config.kubeadm'] as const) {
      assert.ok(s.get('init.kubeadm')!.needs.includes(n), `init.kubeadm needs ${n}`)
    }
    for (const id of ['binaries.kubeadm', 'binaries.kubelet', 'binaries.kubectl', 'binaries.crictl', 'binaries.cni-plugins', 'host.kernel', 'config.cni'] as const) {
      assert.deepEqual(s.get(id)!.needs, [], `${id} starts at once`)
    }
    // kubeadm's configuration is written in the API kubeadm itself speaks
    assert.deepEqual(s.get('config.kubeadm')!.needs, ['binaries.kubeadm'])
    // the smoke Deployment is created as soon as the API answers, overlapping the CNI rollout
    assert.deepEqual(s.get('smoke.deploy')!.needs, ['init.kubeconfig'])
    // and asked while the cluster wait runs: the two waits overlap (the run ends at the later one)
    assert.deepEqual(s.get('smoke.check')!.needs, ['smoke.deploy'])
    assert.deepEqual(s.get('network.cni')!.needs.filter((n) => !n.startsWith('config.')), ['init.kubeconfig'], 'the CNI is applied as soon as the API answers, beside the smoke Deployment')
    assert.equal(s.has('runtime.install'), false, 'Docker is present on hosted runners: not reinstalled')
    assert.ok(!s.get('init.kubeadm')!.needs.includes('host.packages'), 'nothing to install: init does not wait on apt')
  })

  it('makes every step wait for the binaries it runs', () => {
    const s = byId(build().steps)
    const upstream = (id: StepId, seen = new Set<StepId>()): Set<StepId> => {
      for (const n of s.get(id)!.needs) if (!seen.has(n)) upstream(n, seen.add(n))
      return seen
    }
    for (const id of ['network.cni', 'ready.cluster', 'smoke.deploy', 'smoke.check'] as const) assert.ok(upstream(id).has('binaries.kubectl'), `${id} runs kubectl`)
    for (const id of ['config.images', 'init.kubeadm'] as const) assert.ok(upstream(id).has('binaries.kubeadm'), `${id} runs kubeadm`)
    assert.ok(upstream('runtime.ready').has('binaries.crictl'))
    assert.ok(upstream('init.kubeadm').has('binaries.kubelet-unit'))
    assert.ok(upstream('network.cni').has('config.cni'))
  })

  it('never runs two package installs at once, and refuses a host where it cannot act as root', async () => {
    const plan = buildPlan({ config: config(), facts: { ...hostedRunner, docker: false, containerd: undefined, missingPackages: ['conntrack'] }, version: 'v1.31.14', paths: HOST_PATHS })
    const s = byId(plan.steps)
    assert.ok(s.get('host.packages')!.title === 'install conntrack' && s.has('runtime.install'))
    // docker.io brings runc (and Debian's containerd, whose version the probe never saw): the
    // cluster's containerd is the action's own 2.x, and its config is written for 2.x
    assert.ok(s.has('runtime.containerd'))
    const cfg = parseToml(writeOp(s.get('runtime.configure')!, '/etc/kubeadm-single-node/containerd/config.toml').render(plan.learned)) as any
    assert.equal(cfg.version, 3)
    assert.match(hostProblems(config(), { ...hostedRunner, privilege: 'none' }, HOST_PATHS, plan.runtime)[0], /must act as root.*passwordless sudo/)
    assert.deepEqual(hostProblems(config(), hostedRunner, HOST_PATHS, build().runtime), [])
  })

  it("runs the action's own containerd beside the host's where the host's cannot serve the version", () => {
    const own = (facts: typeof hostedRunner, version = 'v1.34.2') => buildPlan({ config: config({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }), facts, version, paths: HOST_PATHS })
    // bookworm's containerd 1.6.20 is older than 1.34's 1.6.39+
    const plan = own({ ...hostedRunner, containerd: { version: '1.6.20', major: 1 } })
    const s = byId(plan.steps)
    assert.ok(s.has('runtime.containerd') && !s.has('runtime.install'))
    assert.match(plan.notes.join('\n'), /supports containerd 2\.1\.3\+, 2\.0\.6\+, 1\.7\.28\+ or 1\.6\.39\+.*this host has containerd 1\.6\.20: the action runs its own containerd 2\.2\.1/)
    const cfg = parseToml(writeOp(s.get('runtime.configure')!, '/etc/kubeadm-single-node/containerd/config.toml').render(plan.learned)) as any
    assert.equal(cfg.version, 3)
    assert.equal(cfg.root, '/var/lib/kubeadm-single-node/containerd')
    assert.equal(cfg.grpc.address, '/run/kubeadm-single-node/containerd/containerd.sock')
    assert.equal(cfg.plugins['io.containerd.cri.v1.images'].registry.config_path, '/etc/kubeadm-single-node/containerd/certs.d')
    writeOp(s.get('runtime.configure')!, '/etc/kubeadm-single-node/containerd/certs.d/docker.io/hosts.toml')
    const text = renderPlan(plan.steps, plan.learned)
    assert.doesNotMatch(text, /\/etc\/containerd\//, "the host's containerd config is not touched")
    assert.match(text, /criSocket: unix:\/\/\/run\/kubeadm-single-node\/containerd\/containerd\.sock/)
    assert.match(text, /runtime-endpoint: unix:\/\/\/run\/kubeadm-single-node\/containerd\/containerd\.sock/)
    assert.match(text, /GET https:\/\/github\.com\/containerd\/containerd\/releases\/download\/v2\.2\.1\/containerd-2\.2\.1-linux-amd64\.tar\.gz/)
    assert.match(text, /\$ sudo systemctl enable -- kubeadm-single-node-containerd/)
    assert.match(text, /\/usr\/local\/lib\/kubeadm-single-node\/containerd\/bin\/ctr --address \/run\/kubeadm-single-node\/containerd\/containerd\.sock --namespace k8s\.io images pull --local/)
    // a host without containerd gets Docker (for runc) and the action's own containerd
    const bare = byId(own({ ...hostedRunner, docker: false, containerd: undefined }).steps)
    assert.ok(bare.has('runtime.install') && bare.has('runtime.containerd'))
    assert.deepEqual(bare.get('runtime.configure')!.needs, ['config.images', 'runtime.install', 'runtime.containerd'])
    // a supported host containerd is used as it is
    assert.equal(byId(build().steps).has('runtime.containerd'), false)
    assert.equal(byId(own({ ...hostedRunner, containerd: { version: '1.7.28', major: 1 } }).steps).has('runtime.containerd'), false)
  })

  it("renders containerd's config for the detected major, with kubeadm's pause image", () => {
    const render = (facts = hostedRunner, inputs = {}) => {
      const plan = build(inputs, facts)
      return parseToml(writeOp(byId(plan.steps).get('runtime.configure')!, HOST_PATHS.containerdConfig).render(plan.learned)) as any
    }
    assert.equal(render().plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.k8s.io/pause:3.10.1')
    assert.equal(render({ ...hostedRunner, containerd: { version: '1.7.28', major: 1 } }).version, 2, "1.7.28 serves 1.34: the host's is configured, in its own layout")
    const mirror = render(hostedRunner, { 'image-repository': 'registry.aliyuncs.com/google_containers' })
    assert.equal(mirror.plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.aliyuncs.com/google_containers/pause:3.10.1')
  })

  it('renders what kubeadm later says, not the prediction', () => {
    const plan = build()
    const op = writeOp(byId(plan.steps).get('runtime.configure')!, HOST_PATHS.containerdConfig)
    assert.match(op.render({ ...plan.learned, kubeadmImages: ['registry.k8s.io/pause:9.9'] }), /sandbox = "registry\.k8s\.io\/pause:9\.9"/)
  })

  it('writes a hosts.toml per mirrored registry, and Docker mirrors with a reload, never a restart', () => {
    const s = byId(build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io\nghcr.io=https://ghcr.m.daocloud.io' }).steps)
    writeOp(s.get('runtime.configure')!, '/etc/containerd/certs.d/docker.io/hosts.toml')
    writeOp(s.get('runtime.configure')!, '/etc/containerd/certs.d/ghcr.io/hosts.toml')
    const docker = s.get('runtime.docker-mirrors')!
    const json = JSON.parse(writeOp(docker, HOST_PATHS.dockerDaemonJson).render({} as Learned))
    assert.deepEqual(json['registry-mirrors'], ['https://mirror.gcr.io'])
    assert.equal(json['cgroup-parent'], '/actions_job', "the runner's own daemon.json keys survive")
    assert.deepEqual(docker.ops.filter((o) => o.kind === 'service'), [{ kind: 'service', action: 'reload', unit: 'docker' }])
  })

  it("gives Docker's mirrors only to a host that has Docker", () => {
    const mirrors = { 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }
    assert.equal(byId(build(mirrors, { ...hostedRunner, docker: false }).steps).has('runtime.docker-mirrors'), false, 'a kubeadm VM with containerd and no dockerd')
    assert.ok(byId(build(mirrors, { ...hostedRunner, docker: false, containerd: undefined }).steps).get('runtime.docker-mirrors')!.needs.includes('runtime.install'))
  })

  it("never overwrites the runner user's own kubeconfig", () => {
    const plan = build({}, { ...hostedRunner, kubeconfigExists: true })
    assert.equal(plan.kubeconfig, '/home/runner/.kube/kubeadm-single-node.config')
    assert.match(plan.notes[0], /~\/\.kube\/config already exists and is left alone/)
    assert.equal(build().kubeconfig, '/home/runner/.kube/config')
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /install -D -m 0600 -o 1001 -g 118 \/etc\/kubernetes\/admin\.conf \/home\/runner\/\.kube\/kubeadm-single-node\.config/)
  })

  it("with cni 'none' skips flannel and the smoke test, saying why", () => {
    const plan = build({ cni: 'none' })
    const s = byId(plan.steps)
    assert.equal(s.has('config.cni') || s.has('network.cni') || s.has('smoke.check'), false)
    assert.match(plan.notes.join('\n'), /smoke-test skipped/)
    assert.equal(build({ 'smoke-test': 'false' }).steps.some((st) => st.phase === 'smoke'), false)
  })

  it('keeps the smoke test working with the control-plane taint kept: nginx tolerates it', () => {
    const manifest = (inputs: Record<string, string>) => {
      const plan = build(inputs)
      return parseAllDocuments(writeOp(byId(plan.steps).get('smoke.deploy')!, '/etc/kubeadm-single-node/smoke.yaml').render(plan.learned)).map((d) => d.toJS())[0]
    }
    assert.deepEqual(manifest({ untaint: 'false' }).spec.template.spec.tolerations, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule', operator: 'Exists' }])
    assert.equal(manifest({}).spec.template.spec.tolerations, undefined)
  })

  it('passes shell metacharacters through as single argv elements', () => {
    const plan = build({ 'preload-images': 'docker.io/library/busybox:1.36', 'cni-manifest': '/tmp/a;b $(x).yml' })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /read \/tmp\/a;b \$\(x\)\.yml/)
    for (const step of plan.steps) for (const op of step.ops) if (op.kind === 'exec') assert.ok(op.argv.every((a) => typeof a === 'string'))
  })

  it('prints the commands the run builds: install -D for binaries, the plugin directory, the services', () => {
    const text = renderPlan(build().steps, build().learned)
    assert.match(text, /\$ sudo install -D -m 0755 '<extracted or downloaded>' \/usr\/local\/bin\/kubeadm/)
    assert.match(text, /\$ sudo install -d -m 0755 \/opt\/cni\/bin/)
    assert.match(text, /\$ sudo systemctl restart -- containerd/)
    assert.match(text, /\$ sudo \/usr\/local\/bin\/kubeadm init --config \/etc\/kubeadm-single-node\/kubeadm\.yaml --skip-token-print/)
    assert.match(text, /cleanup: \$ sudo \/usr\/local\/bin\/kubeadm reset --force --cri-socket unix:\/\/\/var\/run\/containerd\/containerd\.sock/)
  })

  it('plans a version the image table does not know, leaving the names to kubeadm, and says so', () => {
    const plan = buildPlan({ config: config(), facts: hostedRunner, version: 'v1.40.0', paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /sandbox = "registry\.k8s\.io\/pause:<asked of kubeadm at run time>"/)
    assert.match(text, /and each of kubeadm's own images, <asked of kubeadm at run time>/)
    assert.match(text, /images pull --local --hosts-dir \/etc\/containerd\/certs\.d ghcr\.io\/flannel-io\/flannel:v0\.28\.9/)
    assert.match(plan.notes.join('\n'), /Kubernetes v1\.40\.0 is newer than this action's version table \(newest 1\.37\), so the plan assumes 1\.37's rules: .*kubeadm's images as kubeadm lists them, and crictl v1\.40\.0, or v1\.39\.0 or v1\.38\.0 while v1\.40\.0 is not published yet\./)
    const later = buildPlan({ config: config(), facts: hostedRunner, version: 'v1.34.40', paths: HOST_PATHS })
    assert.match(later.notes.join('\n'), /predicted from v1\.34\.12/)
  })

  it('flags hosts that cannot run the cluster before changing anything', () => {
    const problems = (facts: typeof hostedRunner, version = 'v1.34.2', inputs = {}) =>
      hostProblems(config(inputs), facts, HOST_PATHS, buildPlan({ config: config(inputs), facts, version, paths: HOST_PATHS }).runtime)
    assert.match(problems({ ...hostedRunner, cpus: 1 })[0], /at least 2 CPUs/)
    assert.deepEqual(problems({ ...hostedRunner, containerd: { version: '1.7.27', major: 1 } }, 'v1.36.0'), [], 'an old containerd is no reason to stop: the action brings its own')
    assert.match(problems({ ...hostedRunner, existingCluster: true })[0], /A cluster from an earlier run is still on this host .*input 'on-existing' is 'fail'; accepted: 'fail' .*'reset' .*'reuse' .*kubeadm reset --force/)
    assert.deepEqual(problems({ ...hostedRunner, existingCluster: true }, 'v1.34.2', { 'on-existing': 'reset' }), [], 'reset and reuse deal with the cluster themselves')
    const broken = { ...hostedRunner, daemonJsonExists: true, daemonJson: undefined }
    assert.match(problems(broken, 'v1.34.2', { 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })[0], /daemon\.json is not valid JSON/)
    assert.deepEqual(problems(broken), [], 'only a problem when there are docker.io mirrors to merge')
  })

  it('writes the plan as a directory tree: files at their host paths, plan.txt, plan.json', async () => {
    const plan = build()
    const root = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    const written = await writePlanTree(plan.steps, plan.learned, root)
    assert.ok(written.includes('/etc/containerd/config.toml'))
    const kubeadm = parseAllDocuments(await readFile(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'), 'utf8')).map((d) => d.toJS())
    assert.equal(kubeadm[1].kubernetesVersion, 'v1.34.2')
    assert.equal((await stat(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'))).mode & 0o777, 0o600)
    const json = JSON.parse(await readFile(join(root, 'plan.json'), 'utf8'))
    assert.deepEqual(json.map((s: { id: string }) => s.id), orderSteps(plan.steps).map((s) => s.id))
    assert.match(await readFile(join(root, 'plan.txt'), 'utf8'), /kubeadm init --config \/etc\/kubeadm-single-node\/kubeadm\.yaml/)
    // files a task writes are in the tree too: the CNI manifest says where the run reads it
    assert.match(await readFile(join(root, 'etc/kubeadm-single-node/cni.yaml'), 'utf8'), /^# the flannel manifest, read at run time from https:\/\/github\.com\/flannel-io\/flannel\/raw\/v0\.28\.9\/Documentation\/kube-flannel\.yml, with net-conf\.json Network set to 10\.244\.0\.0\/16/)
    const withCreds = build({ 'registry-credentials': 'docker.io=octocat:dckr_pat_tree' })
    const root2 = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    const written2 = await writePlanTree(withCreds.steps, withCreds.learned, root2)
    const dockerConfig = written2.find((p) => p.endsWith('/.docker/config.json'))!
    assert.ok(dockerConfig, 'the runner user\'s Docker config.json is in the tree')
    const text = await readFile(join(root2, dockerConfig), 'utf8')
    assert.ok(!text.includes('dckr_pat_tree'), 'with a placeholder for the token')
    assert.ok('docker.io' in JSON.parse(text).auths || 'https://index.docker.io/v1/' in JSON.parse(text).auths)
  })

  it('never writes the plan tree onto the live system', async () => {
    const plan = build()
    assert.match((await planTreeProblem('/', plan.steps))!, /live system's root/)
    assert.match((await planTreeProblem('/etc/..', plan.steps))!, /live system's root/)
    const dir = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    await symlink('/etc', join(dir, 'etc'))
    assert.match((await planTreeProblem(dir, plan.steps))!, /is the host's own \/etc\//)
    assert.equal(await planTreeProblem(join(dir, 'fresh'), plan.steps), undefined)
  })
})

describe('host packages in the plan (apt off the critical path)', () => {
  const at = (version: string, missingPackages: string[]) => buildPlan({ config: config(), facts: { ...hostedRunner, missingPackages }, version, paths: HOST_PATHS })
  const packages = (plan: ReturnType<typeof at>) => plan.steps.find((s) => s.id === 'host.packages')!
  const init = (plan: ReturnType<typeof at>) => plan.steps.find((s) => s.id === 'init.kubeadm')!

  it("installs conntrack for 1.31, whose kubeadm preflight stops without it, and init waits for it", () => {
    const plan = at('v1.31.14', ['conntrack'])
    assert.equal(packages(plan).title, 'install conntrack')
    assert.ok(init(plan).needs.includes('host.packages'))
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /conntrack: kubeadm's preflight stops below 1\.32 without it/)
    assert.match(text, /\$ sudo DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y --no-install-recommends conntrack\n/)
    assert.match(text, /only if that fails: \$ sudo DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get update, then the install once more/)
  })

  it('installs nothing for 1.34, even where conntrack is missing, and init does not wait on apt', () => {
    for (const missing of [['conntrack'], []]) {
      const plan = at('v1.34.2', missing)
      assert.equal(packages(plan).title, 'no package to install')
      assert.ok(!init(plan).needs.includes('host.packages'))
      const text = renderPlan(plan.steps, plan.learned)
      assert.doesNotMatch(text, /apt-get/)
      assert.match(text, /kubeadm v1\.34\.2's preflight stops for no missing package, and no step of the run needs one/)
      if (missing.length) assert.match(text, /conntrack: needed only through 1\.31; not installed here, and left so/)
      else assert.doesNotMatch(text, /conntrack/)
    }
  })

  it('a 1.31 host that has conntrack installs nothing, and says conntrack is already there', () => {
    const plan = at('v1.31.14', [])
    assert.equal(packages(plan).title, 'no package to install')
    assert.ok(!init(plan).needs.includes('host.packages'))
    assert.match(renderPlan(plan.steps, plan.learned), /conntrack: kubeadm's preflight stops below 1\.32 without it .*; already installed/)
  })

  it('a minor newer than the table needs what the newest row needs: nothing', () => {
    assert.equal(packages(at('v1.38.0', ['conntrack'])).title, 'no package to install')
  })
})

describe("the pod and Service CIDRs against the node's network", () => {
  // the runner the booted-machine tests model (system/machine.ts): eth0 10.1.0.4/20, default route via 10.1.0.1
  const runner = {
    addresses: [
      { ifname: 'lo', address: '127.0.0.1', prefixlen: 8 },
      { ifname: 'eth0', address: '10.1.0.4', prefixlen: 20 },
      { ifname: 'docker0', address: '172.17.0.1', prefixlen: 16 }
    ],
    defaultRoute: { dev: 'eth0', gateway: '10.1.0.1' }
  }
  const plan = (inputs: Record<string, string>, network = runner) => buildPlan({ config: config(inputs), facts: { ...hostedRunner, network }, version: 'v1.34.2', paths: HOST_PATHS })

  it('refuses a pod CIDR that holds the node address, naming the input and the address', () => {
    const [p, ...more] = plan({ 'pod-network-cidr': '10.1.0.0/20' }).inputProblems
    assert.deepEqual(more, [])
    assert.match(p, /^Input 'pod-network-cidr' has the value "10\.1\.0\.0\/20", which overlaps this node's address 10\.1\.0\.4 \(on eth0\)/)
    assert.match(p, /Accepted: an IPv4 network disjoint from 10\.1\.0\.0\/20/)
  })

  it("refuses a service CIDR inside the default route's network that holds no node address", () => {
    const [p] = plan({ 'service-cidr': '10.1.8.0/24' }).inputProblems
    assert.match(p, /^Input 'service-cidr' has the value "10\.1\.8\.0\/24", which overlaps the network of this node's default route, 10\.1\.0\.0\/20 \(via eth0, gateway 10\.1\.0\.1\)/)
    assert.doesNotMatch(p, /address 10\.1\.0\.4/)
  })

  it('refuses each input that overlaps, both at once', () => {
    const problems = plan({ 'pod-network-cidr': '10.1.8.0/24', 'service-cidr': '10.1.0.0/24' }, runner).inputProblems
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.match(problems[0], /'pod-network-cidr'/)
    assert.match(problems[1], /'service-cidr'.*10\.1\.0\.4/)
  })

  it('accepts disjoint CIDRs, and ignores loopback, link-local and the bridges that are not the node', () => {
    assert.deepEqual(plan({}).inputProblems, [], 'the defaults, 10.244.0.0/16 and 10.96.0.0/12')
    const leftover = {
      addresses: [
        ...runner.addresses,
        { ifname: 'eth1', address: '169.254.10.2', prefixlen: 16 },
        // an earlier run of this cluster: flannel's bridge and VXLAN device in the same pod CIDR
        { ifname: 'cni0', address: '10.244.0.1', prefixlen: 24 },
        { ifname: 'flannel.1', address: '10.244.0.0', prefixlen: 32 }
      ],
      defaultRoute: runner.defaultRoute
    }
    assert.deepEqual(plan({ 'pod-network-cidr': '172.16.0.0/12', 'service-cidr': '10.96.0.0/12' }, leftover).inputProblems, [], "docker0's 172.17.0.1 is Docker's")
    assert.deepEqual(plan({}, leftover).inputProblems, [])
    assert.deepEqual(plan({ 'pod-network-cidr': '169.254.0.0/16' }, leftover).inputProblems, [], 'link-local does not count')
  })

  it('holds nothing against the inputs where `ip` did not answer', () => {
    assert.deepEqual(buildPlan({ config: config({ 'pod-network-cidr': '10.1.0.0/20' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS }).inputProblems, [])
  })
})

describe('image-retags in the plan', () => {
  const COREDNS_MIRROR = 'docker.io/coredns/coredns:1.12.1'
  const COREDNS = 'registry.k8s.io/coredns/coredns:v1.12.1'
  const retags = { 'image-retags': `${COREDNS_MIRROR}=${COREDNS}\nmirror.example/flannel:v0.28.9=ghcr.io/flannel-io/flannel:v0.28.9` }
  const build = (inputs: Record<string, string> = {}) => buildPlan({ config: config(inputs), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
  const preloadStep = (plan: ReturnType<typeof build>) => plan.steps.find((s) => s.id === 'images.preload')!

  it('preloads every SOURCE and no TARGET, whatever asked for the TARGET (kubeadm, the CNI, preload-images)', () => {
    const plan = build({ ...retags, 'preload-images': COREDNS })
    const set = preloadSet(config({ ...retags, 'preload-images': COREDNS }), plan.learned, true)
    assert.ok(plan.learned.kubeadmImages.includes(COREDNS), "kubeadm asks for registry.k8s.io's coredns")
    assert.ok(plan.learned.cniImages.includes('ghcr.io/flannel-io/flannel:v0.28.9'), 'and flannel for its image')
    assert.ok(!set.includes(COREDNS) && !set.includes('ghcr.io/flannel-io/flannel:v0.28.9'), 'a TARGET is never pulled')
    assert.ok(set.includes(COREDNS_MIRROR) && set.includes('mirror.example/flannel:v0.28.9'), 'every SOURCE is')
    // everything else as without retags
    const plain = preloadSet(config(), build().learned, true)
    assert.deepEqual(set.filter((i) => !i.includes('coredns:1.12.1') && !i.startsWith('mirror.example/')), plain.filter((i) => i !== COREDNS && !i.startsWith('ghcr.io/flannel-io/flannel:')))
    assert.equal(new Set(set).size, set.length, 'no image twice')
  })

  it('excludes a TARGET only kubeadm names at run time, from what kubeadm says then', () => {
    const learned: Learned = { kubeadmImages: [`registry.k8s.io/pause:3.10.1`, COREDNS], kubeadmApi: 'kubeadm.k8s.io/v1beta4', cniImages: [] }
    assert.deepEqual(preloadSet(config(retags), learned, false), ['registry.k8s.io/pause:3.10.1', COREDNS_MIRROR, 'mirror.example/flannel:v0.28.9'])
  })

  it('shows each tag command after the pulls, as the run builds it, and no pull of a TARGET', () => {
    const plan = build(retags)
    const op = preloadStep(plan).ops[0]
    assert.ok(op.kind === 'task')
    assert.match(op.title, /then retag$/)
    const ctr = 'ctr --address /var/run/containerd/containerd.sock --namespace k8s.io'
    const tags = op.shows.filter((l) => l.includes(' images tag '))
    assert.deepEqual(tags, [
      `$ sudo ${ctr} images tag --force ${COREDNS_MIRROR} ${COREDNS}   (image-retags: ${COREDNS} is not pulled)`,
      `$ sudo ${ctr} images tag --force mirror.example/flannel:v0.28.9 ghcr.io/flannel-io/flannel:v0.28.9   (image-retags: ghcr.io/flannel-io/flannel:v0.28.9 is not pulled)`
    ])
    const lastPull = op.shows.findLastIndex((l) => l.includes(' images pull '))
    assert.ok(lastPull >= 0 && lastPull < op.shows.indexOf(tags[0]), 'tags come after the pulls')
    assert.ok(op.shows.some((l) => l.endsWith(` images pull --local --hosts-dir /etc/containerd/certs.d ${COREDNS_MIRROR}`)))
    assert.ok(!op.shows.some((l) => l.includes(' images pull ') && (l.endsWith(COREDNS) || l.endsWith('ghcr.io/flannel-io/flannel:v0.28.9'))))
    const text = renderPlan(plan.steps, plan.learned)
    assert.ok(text.includes(tags[0]), 'the dry run prints them')
    // no retags, no tag lines and the title as before
    const plain = preloadStep(build()).ops[0]
    assert.ok(plain.kind === 'task' && !plain.title.includes('retag') && !plain.shows.some((l) => l.includes(' images tag ')))
  })

  it("tags with the action's own containerd where it runs one", () => {
    const plan = buildPlan({ config: config(retags), facts: { ...hostedRunner, containerd: { version: '1.6.20', major: 1 } }, version: 'v1.34.2', paths: HOST_PATHS })
    const op = preloadStep(plan).ops[0]
    assert.ok(op.kind === 'task')
    assert.ok(op.shows.some((l) => l.startsWith('$ sudo /usr/local/lib/kubeadm-single-node/containerd/bin/ctr --address /run/kubeadm-single-node/containerd/containerd.sock --namespace k8s.io images tag --force ')))
  })

  /** The images.preload step, run against a store that records what happens in it. */
  async function runPreload(inputs: Record<string, string>, store: ImageStore): Promise<string[]> {
    const input = { config: config(inputs), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS }
    const learned = seedLearned(input.config, input.version)
    const p = planContext(input, learned)
    learned.cniImages = p.cni.predictedImages(input.config)
    const st = imageSteps({ ...p, runtime: { ...p.runtime, imageStore: () => store } }).find((s) => s.id === 'images.preload')!
    const op = st.ops[0]
    assert.ok(op.kind === 'task')
    const log: string[] = []
    await op.run({ host: {} as Host, learned, log: (l) => void log.push(l) })
    return log
  }

  function recordingStore(have: string[] = []): ImageStore & { events: string[] } {
    const present = new Set(have)
    const store = {
      events: [] as string[],
      async list() {
        return new Set(present)
      },
      async pull(ref: string) {
        await new Promise((r) => setTimeout(r, 2))
        present.add(ref)
        store.events.push(`pull ${ref}`)
      },
      async importArchive(): Promise<string[]> {
        return []
      },
      async tag(source: string, target: string) {
        assert.ok(present.has(source), `${source} is in the store when it is tagged`)
        present.add(target)
        store.events.push(`tag ${source} ${target}`)
      },
      async remove() {
        throw new Error('the preload removes nothing')
      },
      async exportArchive() {
        throw new Error('the preload exports nothing')
      }
    }
    return store
  }

  it("pulls the version table's images while kubeadm downloads, then only what kubeadm names beyond them", async () => {
    const input = { config: config(), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS }
    const learned = seedLearned(input.config, input.version)
    const p = planContext(input, learned)
    learned.cniImages = p.cni.predictedImages(input.config)
    const store = recordingStore()
    const steps = imageSteps({ ...p, runtime: { ...p.runtime, imageStore: () => store } })
    const early = steps.find((s) => s.id === 'images.early')!
    assert.deepEqual(early.needs, ['runtime.ready'], 'it waits for the runtime, not for kubeadm')
    assert.ok(steps.find((s) => s.id === 'images.preload')!.needs.includes('images.early'))
    const run = (st: (typeof steps)[number]) => (st.ops[0] as Extract<(typeof st.ops)[number], { kind: 'task' }>).run({ host: {} as Host, learned, log: () => {} })
    await run(early)
    const earlyPulls = store.events.filter((e) => e.startsWith('pull '))
    assert.ok(earlyPulls.includes('pull registry.k8s.io/kube-apiserver:v1.34.2') && earlyPulls.includes('pull docker.io/library/nginx:stable-alpine'), earlyPulls.join(', '))
    // kubeadm, asked after the early pull, names one image the table did not
    learned.kubeadmImages = [...learned.kubeadmImages, 'registry.k8s.io/extra:v1']
    await run(steps.find((s) => s.id === 'images.preload')!)
    const later = store.events.filter((e) => e.startsWith('pull ')).slice(earlyPulls.length)
    assert.deepEqual(later, ['pull registry.k8s.io/extra:v1'], 'nothing pulled twice')
    assert.equal(learned.imageCounts?.pulled, earlyPulls.length + 1, 'the early pulls count as pulled')
    assert.ok(learned.cacheable?.includes('registry.k8s.io/kube-apiserver:v1.34.2'), 'and may go into a cache entry')
  })

  it('pulls nothing early where something else decides the images: kubeadm-config, loaded images, offline, a minor newer than the table', () => {
    const ids = (inputs: Record<string, string>, version = 'v1.34.2') => buildPlan({ config: config(inputs), facts: hostedRunner, version, paths: HOST_PATHS }).steps.map((s) => s.id)
    assert.ok(ids({}).includes('images.early'))
    for (const inputs of [{ 'kubeadm-config': 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n' }, { 'load-images': 'nginx:1' }, { offline: 'true', 'kubernetes-version': 'v1.34.2' }] as Array<Record<string, string>>) {
      assert.ok(!ids(inputs).includes('images.early'), JSON.stringify(inputs))
    }
    assert.ok(!ids({}, 'v1.38.0').includes('images.early'), 'a minor newer than the table')
  })

  it('tags each SOURCE as its TARGET after every pull, in the order given, and pulls no TARGET', async () => {
    const store = recordingStore()
    const log = await runPreload(retags, store)
    const tags = store.events.filter((e) => e.startsWith('tag '))
    assert.deepEqual(tags, [`tag ${COREDNS_MIRROR} ${COREDNS}`, 'tag mirror.example/flannel:v0.28.9 ghcr.io/flannel-io/flannel:v0.28.9'])
    const firstTag = store.events.indexOf(tags[0])
    assert.ok(store.events.slice(firstTag).every((e) => e.startsWith('tag ')), `no pull after a tag: ${store.events.join(', ')}`)
    assert.ok(store.events.includes(`pull ${COREDNS_MIRROR}`))
    assert.ok(!store.events.includes(`pull ${COREDNS}`) && !store.events.includes('pull ghcr.io/flannel-io/flannel:v0.28.9'))
    assert.ok(store.events.includes('pull registry.k8s.io/kube-apiserver:v1.34.2'), 'the rest is pulled as ever')
    assert.ok(log.includes(`tagged ${COREDNS_MIRROR} as ${COREDNS}`), log.join('\n'))
  })

  it('tags a SOURCE that was already in the store, and says which retag failed', async () => {
    const store = recordingStore([COREDNS_MIRROR])
    await runPreload({ 'image-retags': `${COREDNS_MIRROR}=${COREDNS}` }, store)
    assert.ok(!store.events.includes(`pull ${COREDNS_MIRROR}`), 'present: kept, not pulled again')
    assert.equal(store.events.at(-1), `tag ${COREDNS_MIRROR} ${COREDNS}`)
    const failing = { ...recordingStore(), tag: async () => { throw new Error('ctr: image "x" not found') } }
    await assert.rejects(runPreload({ 'image-retags': `${COREDNS_MIRROR}=${COREDNS}` }, failing), new RegExp(`^Error: Could not tag ${COREDNS_MIRROR.replace(/\./g, '\\.')} as .* \\(image-retags\\): ctr: image "x" not found$`))
  })
})

describe('mirror-preset in the plan', () => {
  it("shows the preset's effective values: downloads, hosts.toml per registry, kubeadm's images, and a note", () => {
    const plan = buildPlan({ config: config({ 'mirror-preset': 'china' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /GET https:\/\/files\.m\.daocloud\.io\/dl\.k8s\.io\/release\/v1\.34\.2\/bin\/linux\/amd64\/kubeadm/)
    assert.match(text, /https:\/\/files\.m\.daocloud\.io\/github\.com\/kubernetes-sigs\/cri-tools\/releases\/download\//)
    assert.match(text, /GET https:\/\/files\.m\.daocloud\.io\/github\.com\/flannel-io\/flannel\/raw\/v0\.28\.9\/Documentation\/kube-flannel\.yml\n\s*verify SHA-256 e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0 \(pinned for the release's manifest\)/, "the mirror's manifest is held to flannel's pinned digest")
    for (const [registry, host] of [['docker.io', 'docker'], ['ghcr.io', 'ghcr'], ['quay.io', 'quay'], ['registry.k8s.io', 'k8s']]) {
      assert.ok(text.includes(`write /etc/containerd/certs.d/${registry}/hosts.toml`), registry)
      assert.ok(text.includes(`[host."https://${host}.m.daocloud.io"]`), host)
    }
    assert.match(text, /images pull --local --hosts-dir \/etc\/containerd\/certs\.d registry\.aliyuncs\.com\/google_containers\/coredns:v1\.12\.1/)
    assert.match(text, /sandbox = "registry\.aliyuncs\.com\/google_containers\/pause:3\.10\.1"/)
    assert.match(plan.notes.join('\n'), /^Input 'mirror-preset' is 'china': it sets image-repository registry\.aliyuncs\.com\/google_containers; /m)
    // an input set by hand wins in the plan too
    const own = buildPlan({ config: config({ 'mirror-preset': 'china', 'github-url': 'https://gh.example' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const ownText = renderPlan(own.steps, own.learned)
    assert.match(ownText, /https:\/\/gh\.example\/kubernetes-sigs\/cri-tools\//)
    assert.doesNotMatch(ownText, /files\.m\.daocloud\.io\/github\.com/)
    assert.match(ownText, /files\.m\.daocloud\.io\/dl\.k8s\.io\/release/)
  })
})

describe('kubeadm-config and feature-gates in the plan', () => {
  const KUBEADM_CONFIG = `kind: ClusterConfiguration
networking:
  dnsDomain: ci.local
apiServer:
  extraArgs:
    - name: audit-log-maxage
      value: "7"
---
kind: KubeletConfiguration
maxPods: 50
`
  const build = (inputs: Record<string, string>, version = 'v1.34.2') => buildPlan({ config: config(inputs), facts: hostedRunner, version, paths: HOST_PATHS })

  it('the dry run shows the merged kubeadm configuration, in plan.txt and as the file', async () => {
    const plan = build({ 'kubeadm-config': KUBEADM_CONFIG, 'feature-gates': 'InPlacePodVerticalScaling=true' })
    assert.deepEqual(plan.inputProblems, [])
    const root = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    await writePlanTree(plan.steps, plan.learned, root)
    const text = await readFile(join(root, 'plan.txt'), 'utf8')
    assert.match(text, /config\.kubeadm: kubeadm configuration, 'kubeadm-config' merged in \(ClusterConfiguration, KubeletConfiguration\); feature gates InPlacePodVerticalScaling=true/)
    const shown = text.split('\n').filter((l) => l.startsWith('          | ')).map((l) => l.slice(12))
    for (const line of ['  dnsDomain: ci.local', '    - name: audit-log-maxage', '    - name: feature-gates', '      value: InPlacePodVerticalScaling=true', 'maxPods: 50', '  InPlacePodVerticalScaling: true', '  podSubnet: 10.244.0.0/16']) {
      assert.ok(shown.includes(line), `plan.txt shows ${JSON.stringify(line)}`)
    }
    const [init, cluster, kubelet] = parseAllDocuments(await readFile(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'), 'utf8')).map((d) => d.toJS())
    assert.equal(init.nodeRegistration.criSocket, plan.runtime.criSocket)
    assert.deepEqual(cluster.networking, { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'ci.local' })
    assert.deepEqual(cluster.apiServer.extraArgs, [{ name: 'audit-log-maxage', value: '7' }, { name: 'feature-gates', value: 'InPlacePodVerticalScaling=true' }])
    assert.deepEqual(cluster.scheduler.extraArgs, [{ name: 'feature-gates', value: 'InPlacePodVerticalScaling=true' }])
    assert.deepEqual(kubelet.featureGates, { InPlacePodVerticalScaling: true })
    assert.equal(kubelet.maxPods, 50)
  })

  it('the plan carries the input problems only the resolved version and the runtime reveal', () => {
    // v1beta4's list form under a release that reads v1beta3, and the socket of another runtime
    const problems = build({ 'kubeadm-config': `${KUBEADM_CONFIG}---\nkind: InitConfiguration\nnodeRegistration: {criSocket: unix:///run/containerd/containerd.sock}\n` }, 'v1.30.9').inputProblems
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.match(problems[0], /^Inputs 'kubeadm-config' and 'container-runtime' conflict: document 3 \(InitConfiguration\) makes nodeRegistration\.criSocket/)
    assert.match(problems[1], /^Inputs 'kubeadm-config' and 'kubernetes-version' conflict: document 1 \(ClusterConfiguration\) gives apiServer\.extraArgs as .*kubeadm\.k8s\.io\/v1beta3/)
    assert.deepEqual(build({}).inputProblems, [])
  })

  it('the dry run shows bootstrap tokens and the certificate key as ***, in the listing and in the plan tree; the run writes them', async () => {
    const token = 'abcdef.0123456789abcdef'
    const key = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204'
    const plan = build({ 'kubeadm-config': `kind: InitConfiguration\nbootstrapTokens:\n- token: ${token}\n  ttl: 1h\ncertificateKey: ${key}\n` })
    assert.deepEqual(plan.inputProblems, [])
    const text = renderPlan(plan.steps, plan.learned)
    assert.ok(!text.includes(token) && !text.includes(key), 'no secret in the listing')
    assert.match(text, /\| +- token: \*\*\*\n/)
    assert.match(text, /\| certificateKey: \*\*\*\n/)
    const root = await mkdtemp(join(tmpdir(), 'ksn-plan-'))
    await writePlanTree(plan.steps, plan.learned, root)
    assert.ok(!(await readFile(join(root, 'plan.txt'), 'utf8')).includes(token))
    const [init] = parseAllDocuments(await readFile(join(root, 'etc/kubeadm-single-node/kubeadm.yaml'), 'utf8')).map((d) => d.toJS())
    assert.equal(init.bootstrapTokens[0].token, 'REDACTED', 'a plan tree is often kept as an artifact')
    assert.equal(init.certificateKey, 'REDACTED')
    // what the run writes for kubeadm init: the values themselves
    const write = plan.steps.flatMap((s) => s.ops).find((op) => op.kind === 'write' && op.path.endsWith('kubeadm.yaml'))
    assert.ok(write?.kind === 'write')
    const [run] = parseAllDocuments(write.render(plan.learned)).map((d) => d.toJS())
    assert.equal(run.bootstrapTokens[0].token, token)
    assert.equal(run.certificateKey, key)
  })

  it("notes that the dry run's image list does not follow kubeadm-config's coredns or etcd image", () => {
    const plan = build({ 'kubeadm-config': 'kind: ClusterConfiguration\ndns: {imageTag: v1.12.2}\netcd: {local: {imageRepository: mirror.example/etcd}}\n' })
    assert.ok(plan.notes.includes("kubeadm-config sets dns.imageTag, etcd.local.imageRepository: the dry run's list of kubeadm's images does not show that change; the run asks kubeadm, which does."), plan.notes.join('\n'))
    assert.ok(!build({ 'kubeadm-config': KUBEADM_CONFIG }).notes.some((n) => n.startsWith('kubeadm-config sets')))
  })

  it('a kubeadm-config file must be read before the plan is built', () => {
    assert.throws(() => build({ 'kubeadm-config': '/tmp/kubeadm.yaml' }), /kubeadm-config's file \/tmp\/kubeadm\.yaml was not read before the plan was built/)
  })
})
