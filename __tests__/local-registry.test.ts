// local-registry without daemons: the input, the hosts.toml, the plan's steps and problems,
// the outputs, and the ledger's container kind (its schema and its undo). The real daemons
// are bed-local-registry.test.ts's.
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { addonNamed } from '../src/addons/index.js'
import { REGISTRY_CONTAINER, REGISTRY_IMAGE } from '../src/addons/local-registry/container.js'
import { hintsFor } from '../src/engine/diagnostics.js'
import type { Step } from '../src/engine/step.js'
import type { Run, RunOptions } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger, type Change } from '../src/host/ledger.js'
import { LedgerSchemaError, parseChange } from '../src/host/changes/index.js'
import { HOST_PATHS, pathsUnder } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import { InputError } from '../src/config/inputs.js'
import { buildPlan } from '../src/phases/index.js'
import { renderLoopbackHostsToml } from '../src/runtimes/containerd/config.js'
import { config, hostedRunner } from './helpers/facts.js'

const VERSION = 'v1.34.2'
/** a hosted runner whose Docker answers `docker info`, as the runner user (the docker group) */
const runner: HostFacts = { ...hostedRunner, dockerEngine: { version: '28.0.4', major: 28, cgroupDriver: 'cgroupfs', via: 'user' } }
const plan = (inputs: Record<string, string>, facts: HostFacts = runner) =>
  buildPlan({ config: config({ 'kubernetes-version': VERSION, ...inputs }), facts, version: VERSION, paths: HOST_PATHS })
const writes = (steps: readonly Step[]): string[] => steps.flatMap((s) => s.ops.flatMap((o) => (o.kind === 'write' ? [o.path] : [])))
const plugin = addonNamed('local-registry')!

describe('local-registry input', () => {
  it("takes 'false' (off, the default), 'true' (port 5000) or a port", () => {
    assert.equal(config({}).localRegistry, undefined)
    for (const v of ['false', 'False', 'FALSE']) assert.equal(config({ 'local-registry': v }).localRegistry, undefined)
    for (const v of ['true', 'True', 'TRUE']) assert.equal(config({ 'local-registry': v }).localRegistry, 5000)
    assert.equal(config({ 'local-registry': '5001' }).localRegistry, 5001)
    assert.equal(config({ 'local-registry': '1' }).localRegistry, 1)
    assert.equal(config({ 'local-registry': '65535' }).localRegistry, 65535)
    assert.equal(config({ 'local-registry': ' 5002 ' }).localRegistry, 5002, 'trimmed like every input')
  })

  for (const bad of ['0', '65536', '05000', '+5000', '-1', '5000.0', '5e3', 'yes', 'localhost:5000', '0x1388']) {
    it(`refuses ${JSON.stringify(bad)}, naming the input and the accepted forms`, () => {
      assert.throws(
        () => config({ 'local-registry': bad }),
        (err: Error) => {
          assert.ok(err instanceof InputError)
          assert.match(err.message, new RegExp(`Input 'local-registry' has the value "${bad.replace(/[.+]/g, '\\$&')}"; accepted: 'false' \\(no registry\\), 'true' \\(a registry at localhost:5000\\), or a port number from 1 to 65535`))
          return true
        }
      )
    })
  }
})

describe('local-registry in the plan', () => {
  it('is off by default: no step, no hosts.toml for a loopback host', () => {
    const p = plan({})
    assert.equal(p.steps.some((s) => s.id === 'addons.local-registry'), false)
    assert.equal(writes(p.steps).some((w) => w.includes('localhost')), false)
  })

  it("containerd: runtime.configure writes certs.d/localhost:PORT/hosts.toml, plain HTTP for that host alone", () => {
    const p = plan({ 'local-registry': '5001' })
    const configure = p.steps.find((s) => s.id === 'runtime.configure')!
    const op = configure.ops.find((o) => o.kind === 'write' && o.path.endsWith('/localhost:5001/hosts.toml'))
    assert.ok(op && op.kind === 'write', JSON.stringify(writes([configure])))
    assert.equal(op.path, join(HOST_PATHS.certsDir, 'localhost:5001', 'hosts.toml'))
    assert.deepEqual({ ...parseToml(op.render(p.learned)) }, { server: 'http://localhost:5001' })
    // one such file, for that host: no other registry loses HTTPS
    assert.deepEqual(writes(p.steps).filter((w) => w.startsWith(HOST_PATHS.certsDir)), [op.path])
  })

  it('renders a hosts.toml whose server is the registry over plain HTTP, and nothing else', () => {
    assert.equal(renderLoopbackHostsToml('localhost:5000'), 'server = "http://localhost:5000"\n')
  })

  it("container-runtime docker: nothing written for the registry, Docker's loopback default serves it", () => {
    const p = plan({ 'container-runtime': 'docker', 'local-registry': 'true' }, { ...hostedRunner, daemonJson: { 'exec-opts': ['native.cgroupdriver=systemd'] } })
    assert.ok(p.steps.some((s) => s.id === 'addons.local-registry'))
    assert.equal(writes(p.steps).some((w) => w.includes('localhost:5000')), false)
    for (const s of p.steps) {
      for (const o of s.ops) if (o.kind === 'write' && o.path === HOST_PATHS.dockerDaemonJson) assert.doesNotMatch(o.render(p.learned), /insecure-registries/)
    }
  })

  it('starts the container once Docker answers, after its docker.io mirrors where the plan sets them', () => {
    const bare = plan({ 'local-registry': 'true' })
    assert.deepEqual(bare.steps.find((s) => s.id === 'addons.local-registry')!.needs, ['runtime.ready'])
    const mirrored = plan({ 'local-registry': 'true', 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })
    const step = mirrored.steps.find((s) => s.id === 'addons.local-registry')!
    assert.deepEqual(step.needs, ['runtime.ready', 'runtime.docker-mirrors'])
    const task = step.ops[0]
    assert.equal(task.kind, 'task')
    if (task.kind !== 'task') return
    const shown = task.shows.join('\n')
    assert.match(shown, new RegExp(`docker pull ${REGISTRY_IMAGE.replace(/[.]/g, '\\.')}, through https://mirror\\.gcr\\.io, then https://registry-1\\.docker\\.io`))
    assert.match(shown, /\$ sudo docker run --detach --name kubeadm-single-node-registry --restart always --publish 127\.0\.0\.1:5000:5000 --env OTEL_TRACES_EXPORTER=none docker\.io\/library\/registry:3\.1\.2/)
    assert.match(shown, /cleanup: \$ sudo docker rm --force --volumes kubeadm-single-node-registry/)
  })

  it('offline: the registry image is never pulled, and the plan says it must be in Docker already', () => {
    const p = plan({ 'local-registry': 'true', offline: 'true' })
    assert.ok(p.notes.some((n) => n.includes(`the registry image ${REGISTRY_IMAGE} must be in Docker already`)), p.notes.join('\n'))
    const task = p.steps.find((s) => s.id === 'addons.local-registry')!.ops[0]
    assert.ok(task.kind === 'task')
    assert.match(task.shows[0], /where Docker lacks it: stop, as offline pulls nothing/)
    assert.doesNotMatch(task.shows.join('\n'), /docker pull/)
  })

  it('a host without Docker, where the plan installs none, is refused before anything changes', () => {
    const problems = plan({ 'local-registry': 'true' }, { ...hostedRunner, docker: false }).inputProblems
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^Input 'local-registry' runs the registry in the host's Docker, and `docker` is not on PATH here; accepted: 'local-registry' 'false'/)
    // no containerd either: the runtime phase installs Docker (runtime.install), and the registry waits for it
    const installing = plan({ 'local-registry': 'true' }, { ...hostedRunner, docker: false, containerd: undefined })
    assert.deepEqual(installing.inputProblems, [])
    assert.ok(installing.steps.some((s) => s.id === 'runtime.install'))
  })

  it("a Docker that does not answer is refused before anything changes, saying why, as load-images' is", () => {
    const down: HostFacts = { ...runner, dockerEngine: undefined, dockerProblem: '`docker info` failed: Cannot connect to the Docker daemon at unix:///var/run/docker.sock' }
    const problems = plan({ 'local-registry': 'true' }, down).inputProblems
    assert.equal(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /^Input 'local-registry' runs the registry in the host's Docker, which does not answer here \(`docker info` failed: Cannot connect.*\); accepted: 'local-registry' 'false', or start Docker first/)
  })

  it("refuses a port the cluster's own components listen on, naming the component", () => {
    for (const [port, who] of [['6443', 'the API server'], ['2379', 'etcd'], ['10250', 'the kubelet'], ['10259', 'the scheduler']]) {
      const [p] = plan({ 'local-registry': port }).inputProblems
      assert.match(p ?? '', new RegExp(`^Input 'local-registry' has the value '${port}', a port ${who} listens on.*accepted: another port, such as '5000' or '5001'`), port)
    }
    // the add-ons' and CNIs' ports only where they run
    assert.deepEqual(plan({ 'local-registry': '7946' }).inputProblems, [])
    assert.match(plan({ 'local-registry': '7946', 'load-balancer': 'true' }).inputProblems[0] ?? '', /a port MetalLB's speaker/)
    assert.match(plan({ 'local-registry': '9099', cni: 'calico' }).inputProblems[0] ?? '', /a port calico-node/)
    assert.deepEqual(plan({ 'local-registry': '5001' }).inputProblems, [])
  })

  it('offline: a registry image Docker lacks is refused in the preflight, asked read-only', async () => {
    const asked: string[] = []
    const run = (exitCode: number, stderr = ''): Run => async (argv, opts) => (asked.push(`${opts?.privileged ? 'sudo ' : ''}${argv.join(' ')}`), { exitCode, stdout: exitCode ? '' : 'sha256:0123\n', stderr })
    const c = config({ 'kubernetes-version': VERSION, 'local-registry': 'true', offline: 'true' })
    const [p] = await plugin.hostProblems!(c, runner, run(1, 'Error response from daemon: No such image: docker.io/library/registry:3.1.2'))
    assert.match(p, /^Inputs 'local-registry' and 'offline' \('true'\) need docker\.io\/library\/registry:3\.1\.2 in the host's Docker, which lacks it \(Error response from daemon: No such image.*\); accepted: `docker load` it before the action/)
    assert.deepEqual(asked, [`docker image inspect --format {{.Id}} ${REGISTRY_IMAGE}`])
    assert.deepEqual(await plugin.hostProblems!(c, runner, run(0)), [])
    // online, nothing is asked: the step pulls what Docker lacks
    asked.length = 0
    assert.deepEqual(await plugin.hostProblems!(config({ 'kubernetes-version': VERSION, 'local-registry': 'true' }), runner, run(1)), [])
    assert.deepEqual(asked, [])
  })

  it('refuses a registry-mirrors line for the same host', () => {
    const [p] = plan({ 'local-registry': 'true', 'registry-mirrors': 'localhost:5000=http://127.0.0.1:6000' }).inputProblems
    assert.match(p, /^Inputs 'local-registry' \('5000'\) and 'registry-mirrors' \(a line for localhost:5000\) do not go together/)
  })

  it('gives the output local-registry, and a hint for an HTTPS pull of a plain-HTTP registry', () => {
    assert.deepEqual(plugin.outputs!(config({ 'local-registry': '5003' })), { 'local-registry': 'localhost:5003' })
    const hints = hintsFor(plugin.hints, 'failed to do request: Head "https://127.0.0.1:5000/v2/app/manifests/1": http: server gave HTTP response to HTTPS client')
    assert.equal(hints.length, 1)
    assert.match(hints[0], /name it localhost:PORT/)
    assert.match(hintsFor(plugin.hints, 'docker: Error response from daemon: driver failed programming external connectivity on endpoint kubeadm-single-node-registry: Bind for 127.0.0.1:5000 failed: port is already allocated.').join('\n'), /give local-registry another port/)
  })

  it('with on-existing: reuse, gives the output only where the registry still answers on its port', async () => {
    const urls: string[] = []
    const reader = (status: number) => ({ get: async () => undefined, status: async (url: string) => (urls.push(url), status), smoke: { name: 's', namespace: 'default' } })
    assert.deepEqual(await plugin.reusedOutputs!(config({ 'local-registry': '5003' }), reader(200)), { 'local-registry': 'localhost:5003' })
    assert.deepEqual(urls, ['http://127.0.0.1:5003/v2/'])
    assert.match(String(await plugin.reusedOutputs!(config({ 'local-registry': '5003' }), reader(0))), /^the registry at localhost:5003 does not answer \(no answer; `sudo docker ps --all --filter name=kubeadm-single-node-registry`\)$/)
  })
})

describe('the ledger kind container', () => {
  const roots = ['/etc']
  it('reads back the names the action gives, and refuses any other container', () => {
    assert.deepEqual(parseChange({ kind: 'container', name: REGISTRY_CONTAINER }, 0, roots), { kind: 'container', name: REGISTRY_CONTAINER })
    for (const name of ['postgres', 'kubeadm-single-node-', 'kubeadm-single-node-x --volumes-from', '--all', 'kubeadm-single-node-A', 'kubeadm-single-node-x/../y', `kubeadm-single-node-${'x'.repeat(60)}`, 7]) {
      assert.throws(() => parseChange({ kind: 'container', name }, 3, roots), (err: Error) => err instanceof LedgerSchemaError && /change 3 \(container\): field 'name' is .*; accepted: a container name the action gives/.test(err.message), String(name))
    }
    assert.throws(() => parseChange({ kind: 'container', name: REGISTRY_CONTAINER, image: 'x' }, 0, roots), /unknown field 'image'/)
  })

  /** A run that answers each command by its first words, and keeps what ran. */
  function scripted(answers: Array<[RegExp, { exitCode: number; stdout?: string; stderr?: string }]>): { run: Run; ran: string[] } {
    const ran: string[] = []
    const run: Run = async (argv: readonly string[], opts?: RunOptions) => {
      const line = `${opts?.privileged ? 'sudo ' : ''}${argv.join(' ')}`
      ran.push(line)
      const a = answers.find(([re]) => re.test(line))?.[1] ?? { exitCode: 0 }
      if (a.exitCode !== 0 && !opts?.allowFailure) throw new Error(`${argv.join(' ')} exited ${a.exitCode}: ${a.stderr ?? ''}`)
      return { exitCode: a.exitCode, stdout: a.stdout ?? '', stderr: a.stderr ?? '' }
    }
    return { run, ran }
  }
  const undoWith = (run: Run, changes: Change[]) => undoChanges(changes, { run, services: {} as never, procSwaps: '/proc/swaps', sysClassNet: '/sys/class/net' })
  const change: Change = { kind: 'container', name: REGISTRY_CONTAINER }

  it('undoes by docker rm --force --volumes of that name, as root', async () => {
    const { run, ran } = scripted([])
    const r = await undoWith(run, [change])
    assert.deepEqual(ran, [`sudo docker rm --force --volumes ${REGISTRY_CONTAINER}`])
    assert.deepEqual(r.undone, [`Docker container ${REGISTRY_CONTAINER} (created)`])
  })

  it('counts a container that is not there (never made, or removed) as undone, and any other failure as failed', async () => {
    const gone = await undoWith(scripted([[/docker rm/, { exitCode: 1, stderr: `Error: No such container: ${REGISTRY_CONTAINER}` }]]).run, [change])
    assert.deepEqual([gone.undone.length, gone.failed], [1, []])
    const down = await undoWith(scripted([[/docker rm/, { exitCode: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' }]]).run, [change])
    assert.equal(down.undone.length, 0)
    assert.deepEqual(down.remaining, [change])
    assert.match(down.failed[0], /docker rm --force --volumes kubeadm-single-node-registry` exited 1: Cannot connect to the Docker daemon/)
  })

  async function host(run: Run, ledger: Ledger) {
    const root = await mkdtemp(join(tmpdir(), 'ksn-container-'))
    return createHost({ run, services: {} as never, ledger, ...pathsUnder(root), scratch: root })
  }

  it('records the container before docker run, where no container has its name', async () => {
    const ledger = new Ledger()
    const { run, ran } = scripted([[/container inspect/, { exitCode: 1, stderr: 'Error: No such container' }]])
    await (await host(run, ledger)).runContainer(REGISTRY_CONTAINER, ['--restart', 'always', 'img'])
    assert.deepEqual(ledger.changes, [change])
    assert.deepEqual(ran, [`sudo docker container inspect --format {{.Id}} ${REGISTRY_CONTAINER}`, `sudo docker run --detach --name ${REGISTRY_CONTAINER} --restart always img`])
  })

  it("refuses where Docker has a container of that name already, recording nothing: cleanup must not remove a container the run did not make", async () => {
    const ledger = new Ledger()
    const { run, ran } = scripted([[/container inspect/, { exitCode: 0, stdout: '0123456789abcdef\n' }]])
    await assert.rejects((await host(run, ledger)).runContainer(REGISTRY_CONTAINER, ['img']), /Docker already has a container named kubeadm-single-node-registry \(0123456789ab\), which this run did not make/)
    assert.deepEqual(ledger.changes, [])
    assert.equal(ran.some((l) => l.includes('docker run')), false)
  })

  it('never runs a container under a name the ledger would refuse', async () => {
    const { run, ran } = scripted([])
    await assert.rejects((await host(run, new Ledger())).runContainer('registry', ['img']), /is not one the action gives/)
    assert.deepEqual(ran, [])
  })
})
