// The test bed: the action's own runtime and image steps, run against real containerd 1.6
// (Debian bookworm), real containerd 2.1 (Debian sid, unpacked privately), a real dockerd
// and a real registry on loopback. Each daemon has its own root, state and socket under a
// temporary directory; the plan's files go to temporary paths and its service restarts go
// to the bed's own service manager. Skips, saying what is missing, without root or packages.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { FLANNEL } from '../src/defaults.js'
import { createRun } from '../src/host/exec.js'
import { createHost } from '../src/host/host.js'
import { predictKubeadmImages } from '../src/images.js'
import { pathsUnder, type Paths } from '../src/paths.js'
import { runPlan, type Step } from '../src/plan.js'
import type { HostFacts } from '../src/probe.js'
import { dockerStore } from '../src/runtime/driver.js'
import { waitForContainerd } from '../src/runtime/ready.js'
import { buildPlan, type Plan } from '../src/steps.js'
import { criImages, criStatus } from './bed/cri.js'
import { Daemon, bedServices, waitFor } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { buildImage, dockerArchive, push } from './bed/images.js'
import { startFaultProxy, startRegistry, type FaultProxy, type Registry } from './bed/registry.js'
import { config, hostedRunner } from './helpers/facts.js'

const exec = promisify(execFile)
const skip = bedUnavailable()
if (skip) console.log(`# SKIP real-daemon test bed: ${skip}`)

const VERSION = 'v1.34.2'
const run = createRun({ sudo: false, debug: () => {} })

/** Every image the cluster asks for on registry.k8s.io, flannel's two and nginx: [name, path in the mirror]. */
const UPSTREAM_SET: Array<[string, string]> = [
  ...predictKubeadmImages(VERSION, 'registry.k8s.io')!.map((i): [string, string] => [i, i.replace('registry.k8s.io/', '')]),
  ...FLANNEL.images.map((i): [string, string] => [i, i.replace('ghcr.io/', '')]),
  ['docker.io/library/nginx:stable-alpine', 'library/nginx:stable-alpine']
]

interface Runtime {
  major: 1 | 2
  ctr: string
  paths: Paths
  daemon: Daemon
}

async function containerdRuntime(dir: string, major: 1 | 2): Promise<Runtime> {
  const root = join(dir, `containerd${major}`)
  const h = (p: string): string => join(root, p)
  const paths: Paths = pathsUnder(root)
  await mkdir(join(paths.containerdSocket, '..'), { recursive: true })
  const bin = major === 1 ? BINS.containerd1 : BINS.containerd2
  // The action's config file, loaded as is; only the daemon's own dirs come from the bed.
  const daemon = new Daemon(
    `containerd${major}`,
    () => [bin, '--config', paths.containerdConfig, '--root', h('var/lib/containerd'), '--state', h('run/containerd/state'), '--address', paths.containerdSocket],
    h('containerd.log')
  )
  return { major, ctr: major === 1 ? BINS.ctr1 : BINS.ctr2, paths, daemon }
}

function factsFor(rt: Runtime, extra: Partial<HostFacts> = {}): HostFacts {
  return { ...hostedRunner, root: true, containerd: { version: rt.major === 1 ? '1.6.20' : '2.1.9', major: rt.major }, containerdConfigExists: false, ...extra }
}

/** Runs the named steps of the action's plan, and only them, on the bed. */
async function runSteps(plan: Plan, ids: string[], services: ReturnType<typeof bedServices>, scratch: string): Promise<string[]> {
  const steps = ids.map((id) => {
    const s = plan.steps.find((x) => x.id === id)
    assert.ok(s, `the plan has no step ${id}`)
    return { ...s, needs: [] } as Step
  })
  const lines: string[] = []
  const host = createHost(run, services, scratch)
  // one at a time, in the order given: the bed stands in for the steps' dependencies
  for (const step of steps) await runPlan([step], { host, state: plan.state }, { onEnd: (_s, _t, l) => lines.push(...l) })
  return lines
}

/** The plan's `ctr` is the one on PATH: the bed puts the matching client first. */
function withCtr<T>(rt: Runtime, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH
  process.env.PATH = `${join(rt.ctr, '..')}:${saved}`
  return fn().finally(() => {
    process.env.PATH = saved
  })
}

/**
 * runtime.containerd, then what runtime.cri waits for (the action's waitForContainerd; the
 * step's final `crictl info` is left out: Debian packages no crictl), then the given steps.
 */
async function configureThen(rt: Runtime, plan: Plan, ids: string[], services: ReturnType<typeof bedServices>, scratch: string): Promise<string[]> {
  const lines = await runSteps(plan, ['runtime.containerd'], services, scratch)
  await waitForContainerd({ run, ctr: rt.ctr, address: rt.paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => rt.daemon.logs(30) })
  return [...lines, ...(await withCtr(rt, () => runSteps(plan, ids, services, scratch)))]
}

async function k8sImages(rt: Runtime): Promise<string[]> {
  const { stdout } = await exec(rt.ctr, ['--address', rt.paths.containerdSocket, '--namespace', 'k8s.io', 'images', 'list', '--quiet'])
  return stdout.split('\n').filter((l) => l !== '')
}

describe('real container plumbing', { skip }, () => {
  let dir: string
  let registry: Registry
  let proxy: FaultProxy
  const runtimes: Runtime[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-bed-'))
    registry = await startRegistry(dir)
    proxy = await startFaultProxy(registry.host)
    // small images with real layers: one distinct image per name
    let n = 0
    for (const [, path] of UPSTREAM_SET) {
      const layout = await buildImage(dir, `img${n++}`, [32 * 1024, 8 * 1024])
      // as a pure mirror of each upstream registry (same path), and flat under google_containers
      await push(layout, `${registry.host}/${path}`)
      const flatName = path.replace(/^.*\//, '')
      await push(layout, `${registry.host}/google_containers/${flatName}`)
    }
    for (const major of [1, 2] as const) runtimes.push(await containerdRuntime(dir, major))
  })

  after(async () => {
    for (const rt of runtimes) await rt.daemon.stop()
    await registry?.daemon.stop()
    await proxy?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  for (const major of [1, 2] as const) {
    describe(`containerd ${major}.x`, () => {
      const rt = (): Runtime => runtimes.find((r) => r.major === major)!
      const services = (): ReturnType<typeof bedServices> => bedServices({ containerd: rt().daemon })
      const ready = (deadlineMs = 20_000) =>
        waitForContainerd({ run, ctr: rt().ctr, address: rt().paths.containerdSocket, deadline: Date.now() + deadlineMs, logs: () => rt().daemon.logs(30) })

      it("loads the config the action writes: CRI on, systemd cgroups, kubeadm's sandbox image, the hosts dir", async () => {
        const plan = buildPlan({ config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=http://${registry.host}` }), facts: factsFor(rt()), version: VERSION, paths: rt().paths })
        await runSteps(plan, ['runtime.containerd'], services(), dir)
        const version = await ready()
        assert.match(version, new RegExp(`^v?${major}\\.`))
        // what containerd itself makes of the file
        const bin = major === 1 ? BINS.containerd1 : BINS.containerd2
        const dump = parseToml((await exec(bin, ['--config', rt().paths.containerdConfig, 'config', 'dump'])).stdout) as any
        assert.equal((dump.disabled_plugins ?? []).includes('cri'), false)
        if (major === 2) {
          assert.equal(dump.version, 3)
          assert.equal(dump.plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.k8s.io/pause:3.10.1')
          assert.equal(dump.plugins['io.containerd.cri.v1.images'].registry.config_path, rt().paths.certsDir)
          assert.equal(dump.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes.runc.options.SystemdCgroup, true)
        } else {
          assert.equal(dump.version, 2)
          const cri = dump.plugins['io.containerd.grpc.v1.cri']
          assert.equal(cri.sandbox_image, 'registry.k8s.io/pause:3.10.1')
          assert.equal(cri.registry.config_path, rt().paths.certsDir)
          assert.equal(cri.containerd.runtimes.runc.options.SystemdCgroup, true)
        }
        const plugins = (await exec(rt().ctr, ['--address', rt().paths.containerdSocket, 'plugins', 'ls'])).stdout
        assert.match(plugins, /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/)
        const hosts = parseToml(await readFile(join(rt().paths.certsDir, 'registry.k8s.io/hosts.toml'), 'utf8')) as any
        assert.ok(`http://${registry.host}` in hosts.host)
        // and the CRI itself answers, as the kubelet will ask it
        const cri = await criStatus(rt().paths.containerdSocket)
        assert.equal(cri.runtimeName, 'containerd')
        assert.equal(cri.runtimeApiVersion, 'v1')
        assert.equal(cri.conditions.find((c) => c.type === 'RuntimeReady')?.status, true)
      })

      it("refuses a containerd whose CRI plugin is disabled, as Docker's containerd.io ships it", async () => {
        await writeFile(rt().paths.containerdConfig, 'disabled_plugins = ["cri"]\n')
        await rt().daemon.restart()
        await assert.rejects(ready(), /answers, but the CRI plugin is not loaded.*unknown service runtime\.v1\.RuntimeService/s)
        // the very error kubeadm's preflight would meet
        await assert.rejects(criStatus(rt().paths.containerdSocket), /unknown service runtime\.v1\.RuntimeService/)
      })

      it('reports a daemon that does not come up, with its last log lines', async () => {
        await writeFile(rt().paths.containerdConfig, 'version = 99\n[plugins\n')
        await rt().daemon.restart()
        await assert.rejects(ready(3000), (err: Error) => {
          assert.match(err.message, /Timed out waiting for containerd to answer on /)
          assert.match(err.message, /containerd's last log lines:\n.*(toml|config|version)/is)
          return true
        })
      })

      it('preloads through a flat image-repository mirror: every name kubeadm asks for, coredns and pause included', async () => {
        const repo = `${registry.host}/google_containers`
        const plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'image-repository': repo, 'registry-mirrors': `${registry.host}=http://${registry.host}`, cni: 'none', 'smoke-test': 'false' }),
          facts: factsFor(rt()),
          version: VERSION,
          paths: rt().paths
        })
        await configureThen(rt(), plan, ['images.preload'], services(), dir)
        const have = await k8sImages(rt())
        const expected = predictKubeadmImages(VERSION, repo)!
        assert.ok(expected.includes(`${repo}/coredns:v1.12.1`) && expected.includes(`${repo}/pause:3.10.1`))
        for (const image of expected) assert.ok(have.includes(image), `${image} missing from k8s.io: ${have.join(', ')}`)
        assert.equal(plan.state.imageCounts?.pulled, expected.length)
      })

      it('preloads registry.k8s.io, ghcr.io and docker.io names through hosts-file mirrors, names unchanged', async () => {
        const mirror = `http://${registry.host}`
        const plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=${mirror}\nghcr.io=${mirror}\ndocker.io=${mirror}` }),
          facts: factsFor(rt()),
          version: VERSION,
          paths: rt().paths
        })
        await configureThen(rt(), plan, ['images.preload'], services(), dir)
        const have = await k8sImages(rt())
        for (const [name] of UPSTREAM_SET) assert.ok(have.includes(name), `${name} missing from k8s.io: ${have.join(', ')}`)
        assert.ok(have.includes('registry.k8s.io/coredns/coredns:v1.12.1'), 'nested coredns path on registry.k8s.io')
        // what the kubelet will see through the CRI: every name, and the sandbox image pinned where the CRI pins
        const cri = await criImages(rt().paths.containerdSocket)
        const tags = cri.flatMap((i) => i.repoTags)
        for (const [name] of UPSTREAM_SET) assert.ok(tags.includes(name), `CRI does not list ${name}: ${tags.join(', ')}`)
        if (major === 2) assert.equal(cri.find((i) => i.repoTags.includes('registry.k8s.io/pause:3.10.1'))?.pinned, true)
      })
    })
  }

  describe('archives and faults (containerd 2.x)', () => {
    const rt = (): Runtime => runtimes.find((r) => r.major === 2)!
    const services = (): ReturnType<typeof bedServices> => bedServices({ containerd: rt().daemon })
    const planFor = (inputs: Record<string, string>): Plan =>
      buildPlan({ config: config({ 'kubernetes-version': VERSION, cni: 'none', 'smoke-test': 'false', ...inputs }), facts: factsFor(rt()), version: VERSION, paths: rt().paths })
    const viaProxy = (extra: Record<string, string> = {}): Plan =>
      planFor({ 'image-repository': `${proxy.host}/google_containers`, 'registry-mirrors': `${proxy.host}=http://${proxy.host}`, ...extra })
    const fresh = async (): Promise<void> => {
      // a fresh image store, so that every pull really goes to the registry
      await rt().daemon.stop()
      await rm(join(dir, 'containerd2', 'var'), { recursive: true, force: true })
    }

    it('imports image archives first and pulls only what they did not bring', async () => {
      await fresh()
      const archive = join(dir, 'flannel.tar')
      const name = FLANNEL.images[0]
      await dockerArchive(await buildImage(dir, 'archive-flannel', [16 * 1024]), archive, name)
      const plan = viaProxy({ 'preload-images': name, 'image-archives': archive })
      proxy.rules.length = 0
      await configureThen(rt(), plan, ['images.preload'], services(), dir)
      assert.equal(plan.state.imageCounts?.imported, 1)
      assert.ok((await k8sImages(rt())).includes(name))
      assert.equal(plan.state.imageCounts?.pulled, 7, 'the seven kubeadm images were pulled, the archived one was not')
    })

    it('retries a registry that answers 500, then succeeds', async () => {
      await fresh()
      // enough 500s to outlast containerd's own fallbacks (HEAD, then GET), so the action's retry shows
      const rule = { path: /\/google_containers\/pause\/manifests\//, statuses: [500, 500, 500] }
      proxy.rules.splice(0, proxy.rules.length, rule)
      const lines = await configureThen(rt(), viaProxy(), ['images.preload'], services(), dir)
      assert.ok((rule as { hits?: number }).hits! >= 1, 'the fault was served')
      assert.ok(lines.some((l) => /pull of .*pause:3\.10\.1 failed .*; attempt 2 of 3/.test(l)), lines.join('\n'))
      assert.ok((await k8sImages(rt())).includes(`${proxy.host}/google_containers/pause:3.10.1`))
    })

    it('fails on 429 with a message about rate limits and mirrors', async () => {
      await fresh()
      proxy.rules.splice(0, proxy.rules.length, { path: /\/google_containers\/etcd\/manifests\//, statuses: [429, 429, 429, 429, 429, 429] })
      await assert.rejects(
        configureThen(rt(), viaProxy(), ['images.preload'], services(), dir),
        /Pulling 127\.0\.0\.1:\d+\/google_containers\/etcd:3\.6\.4-0 was refused with HTTP 429 \(rate limit\).*set registry-mirrors/s
      )
    })

    it('names a missing image and where it looked', async () => {
      await fresh()
      proxy.rules.length = 0
      const missing = `${proxy.host}/google_containers/not-there:1.0`
      await assert.rejects(
        configureThen(rt(), viaProxy({ 'preload-images': missing }), ['images.preload'], services(), dir),
        new RegExp(`Image ${missing.replace(/\./g, '\\.')} was not found \\(looked at http://${proxy.host.replace(/\./g, '\\.')}\\)`)
      )
    })
  })

  describe('Docker', () => {
    let docker: Daemon
    let paths: Paths
    before(async () => {
      const d = join(dir, 'docker')
      await mkdir(d, { recursive: true })
      paths = { ...runtimes[0].paths, dockerDaemonJson: join(d, 'etc/docker/daemon.json') }
      docker = new Daemon(
        'dockerd',
        () => [BINS.dockerd, '--config-file', paths.dockerDaemonJson, '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', `unix://${join(d, 'docker.sock')}`, '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
        join(d, 'dockerd.log')
      )
    })
    after(() => docker?.stop())

    it("accepts the daemon.json the action renders, keeping the host's own keys", async () => {
      const mirror = `http://${registry.host}`
      // the host's existing file, with keys of its own (vfs: no overlay inside this VM's tmpfs)
      const existing = { 'storage-driver': 'vfs', 'log-level': 'warn' }
      await mkdir(join(paths.dockerDaemonJson, '..'), { recursive: true })
      await writeFile(paths.dockerDaemonJson, JSON.stringify(existing))
      const plan = buildPlan({
        config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `docker.io=${mirror}` }),
        facts: { ...factsFor(runtimes[0]), daemonJsonExists: true, daemonJson: existing },
        version: VERSION,
        paths
      })
      await runSteps(plan, ['runtime.docker-mirrors'], bedServices({ docker }), dir)
      assert.deepEqual(JSON.parse(await readFile(`${paths.dockerDaemonJson}.kubeadm-single-node.bak`, 'utf8')), existing, 'the original is kept for cleanup')
      const env = { ...process.env, DOCKER_HOST: `unix://${join(dir, 'docker', 'docker.sock')}` }
      await waitFor('dockerd', async () => (await exec('docker', ['info', '--format', '{{.ServerVersion}}'], { env })).stdout.trim() !== '')
      const info = JSON.parse((await exec('docker', ['info', '--format', '{{json .}}'], { env })).stdout)
      assert.deepEqual(info.RegistryConfig.Mirrors, [`${mirror}/`])
      assert.equal(info.Driver, 'vfs')
    })

    it('loads an archive and retags it under the name the cluster asks for', async () => {
      const store = dockerStore(run, { dockerHost: `unix://${join(dir, 'docker', 'docker.sock')}` })
      const archive = join(dir, 'nginx-docker.tar')
      await dockerArchive(await buildImage(dir, 'archive-nginx', [16 * 1024]), archive, 'mirror.example/library/nginx:stable-alpine')
      const loaded = await store.importArchive(archive)
      assert.deepEqual(loaded, ['mirror.example/library/nginx:stable-alpine'])
      await store.tag('mirror.example/library/nginx:stable-alpine', 'docker.io/library/nginx:stable-alpine')
      const have = await store.list()
      assert.ok(have.has('docker.io/library/nginx:stable-alpine'), [...have].join(', '))
      assert.ok(have.has('mirror.example/library/nginx:stable-alpine'))
    })
  })
})
