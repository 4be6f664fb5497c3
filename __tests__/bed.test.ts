// The test bed: the action's own runtime and image steps, run against real containerd 1.6
// (Debian bookworm), real containerd 2.1 (Debian sid, unpacked privately), a real dockerd
// and a real registry on loopback. Each daemon has its own root, state and socket under a
// temporary directory; the plan's files go to temporary paths and its service restarts and
// reloads go to the bed's own service manager. What the plan changes is recorded in the
// action's own ledger, and the bed undoes it the way cleanup does. Skips, saying what is
// missing, without root or packages.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { FLANNEL } from '../src/cnis/flannel/plugin.js'
import { execute } from '../src/engine/execute.js'
import type { Step, StepId } from '../src/engine/step.js'
import { createRun } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger, type Change } from '../src/host/ledger.js'
import { pathsUnder, type Paths } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import type { ServiceManager } from '../src/host/services.js'
import { predictKubeadmImages } from '../src/images/kubeadm.js'
import { dockerStore } from '../src/images/store.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { importCached } from '../src/phases/images.js'
import { buildPlan, type Plan } from '../src/phases/index.js'
import { criImages, criStatus } from './bed/cri.js'
import { Daemon, bedServices, waitFor, withBedSystemctl } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { buildImage, dockerArchive, push } from './bed/images.js'
import { startFaultProxy, startRegistry, type FaultProxy, type Registry } from './bed/registry.js'
import { config, hostedRunner } from './helpers/facts.js'
import { RUNTIMES } from '../src/runtimes/index.js'

const exec = promisify(execFile)
const skip = bedUnavailable()
console.log(skip ? `# SKIP real-daemon test bed: ${skip}` : '# real-daemon test bed: runs (containerd 1.6 and 2.x, dockerd and a registry, each in its own temporary root)')

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

// Bookworm's 1.6.20 stands for a 1.6 release the version table supports for v1.34 (1.6.39+):
// what the bed proves is that a real daemon of each major loads the layout the action writes
// for it. The action's own containerd, for a host whose containerd is too old, is the undo
// test's and the system machine's.
function factsFor(rt: Runtime, extra: Partial<HostFacts> = {}): HostFacts {
  return { ...hostedRunner, privilege: 'root', containerd: { version: rt.major === 1 ? '1.6.39' : '2.1.9', major: rt.major }, ...extra }
}

/** Where the plan's steps act: the bed's services, the bed's paths, and a ledger of what they changed. */
interface Bed {
  services: ServiceManager
  paths: Paths
  /** where files are staged before they are put in place */
  scratch: string
  /** pass one to undo the steps' changes afterwards, as cleanup does */
  ledger?: Ledger
}

/** Runs the named steps of the action's plan, and only them, on the bed. */
async function runSteps(plan: Plan, ids: StepId[], bed: Bed): Promise<string[]> {
  const steps = ids.map((id) => {
    const s = plan.steps.find((x) => x.id === id)
    assert.ok(s, `the plan has no step ${id}`)
    return { ...s, needs: [] } as Step
  })
  const lines: string[] = []
  const host = createHost({ run, services: bed.services, ledger: bed.ledger ?? new Ledger(), ...bed.paths, scratch: bed.scratch })
  // one at a time, in the order given: the bed stands in for the steps' dependencies
  for (const step of steps) await execute([step], { host, learned: plan.learned }, { onEnd: (_s, _t, l) => lines.push(...l) })
  return lines
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** What cleanup does with the ledger, with the bed's daemons as its units. */
function undo(ledger: Ledger, units: Record<string, Daemon>, paths: Paths): ReturnType<typeof undoChanges> {
  return undoChanges(ledger.changes, { run: withBedSystemctl(run, units), services: bedServices(units), ...paths })
}

/** The ledger's record of a file the plan wrote. */
function fileChange(ledger: Ledger, path: string): Extract<Change, { kind: 'file' }> | undefined {
  return ledger.changes.find((c): c is Extract<Change, { kind: 'file' }> => c.kind === 'file' && c.path === path)
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
 * runtime.configure (with kubeadm's images as config.images predicts them, seeded in
 * plan.learned), then what runtime.ready waits for (the action's waitForContainerd; the
 * step's final `crictl info` is left out: Debian packages no crictl), then the given steps.
 */
async function configureThen(rt: Runtime, plan: Plan, ids: StepId[], bed: Bed): Promise<string[]> {
  const lines = await runSteps(plan, ['runtime.configure'], bed)
  await waitForContainerd({ run, ctr: rt.ctr, address: rt.paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => rt.daemon.logs(30) })
  return [...lines, ...(await withCtr(rt, () => runSteps(plan, ids, bed)))]
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
      const units = (): Record<string, Daemon> => ({ containerd: rt().daemon })
      const bed = (ledger?: Ledger): Bed => ({ services: bedServices(units()), paths: rt().paths, scratch: dir, ledger })
      const ready = (deadlineMs = 20_000) =>
        waitForContainerd({ run, ctr: rt().ctr, address: rt().paths.containerdSocket, deadline: Date.now() + deadlineMs, logs: () => rt().daemon.logs(30) })

      it("loads the config the action writes: CRI on, systemd cgroups, kubeadm's sandbox image, the hosts dir", async () => {
        const plan = buildPlan({ config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=http://${registry.host}` }), facts: factsFor(rt()), version: VERSION, paths: rt().paths })
        await runSteps(plan, ['runtime.configure'], bed())
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

      it("cleanup puts the host's own config.toml back, byte for byte, and restarts containerd with it", async () => {
        // the host's file as Docker's containerd.io ships it: CRI off
        const original = `# the host's own config\ndisabled_plugins = ["cri"]\n`
        await writeFile(rt().paths.containerdConfig, original)
        await chmod(rt().paths.containerdConfig, 0o640)
        await rt().daemon.restart()
        const ledger = new Ledger()
        const plan = buildPlan({ config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=http://${registry.host}` }), facts: factsFor(rt()), version: VERSION, paths: rt().paths })
        await runSteps(plan, ['runtime.configure'], bed(ledger))
        await ready()
        // the ledger recorded what was there before the action wrote its own
        const change = fileChange(ledger, rt().paths.containerdConfig)
        assert.ok(change?.backup, `the ledger keeps the original for cleanup: ${JSON.stringify(ledger.changes)}`)
        assert.deepEqual(await readFile(change.backup), Buffer.from(original))
        assert.ok(ledger.changes.some((c) => c.kind === 'unit-restarted' && c.unit === 'containerd' && c.wasActive))
        const pid = rt().daemon.pid
        const report = await undo(ledger, units(), rt().paths)
        assert.deepEqual(report.failed, [])
        assert.deepEqual(await readFile(rt().paths.containerdConfig), Buffer.from(original), 'the original, byte for byte')
        assert.equal((await stat(rt().paths.containerdConfig)).mode & 0o777, 0o640, 'and its mode')
        assert.equal(existsSync(change.backup), false, 'the backup is gone once it is back')
        // restarted with it: a new containerd, running the host's own config again
        assert.ok(rt().daemon.running && rt().daemon.pid !== pid, 'containerd was restarted')
        await assert.rejects(ready(), /answers, but the CRI plugin is not loaded/)
      })

      it('preloads through a flat image-repository mirror: every name kubeadm asks for, coredns and pause included', async () => {
        const repo = `${registry.host}/google_containers`
        const plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'image-repository': repo, 'registry-mirrors': `${registry.host}=http://${registry.host}`, cni: 'none', 'smoke-test': 'false' }),
          facts: factsFor(rt()),
          version: VERSION,
          paths: rt().paths
        })
        await configureThen(rt(), plan, ['images.preload'], bed())
        const have = await k8sImages(rt())
        const expected = predictKubeadmImages(VERSION, repo)!
        assert.ok(expected.includes(`${repo}/coredns:v1.12.1`) && expected.includes(`${repo}/pause:3.10.1`))
        for (const image of expected) assert.ok(have.includes(image), `${image} missing from k8s.io: ${have.join(', ')}`)
        assert.equal(plan.learned.imageCounts?.pulled, expected.length)
      })

      it('preloads registry.k8s.io, ghcr.io and docker.io names through hosts-file mirrors, names unchanged', async () => {
        const mirror = `http://${registry.host}`
        const plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=${mirror}\nghcr.io=${mirror}\ndocker.io=${mirror}` }),
          facts: factsFor(rt()),
          version: VERSION,
          paths: rt().paths
        })
        await configureThen(rt(), plan, ['images.preload'], bed())
        const have = await k8sImages(rt())
        for (const [name] of UPSTREAM_SET) assert.ok(have.includes(name), `${name} missing from k8s.io: ${have.join(', ')}`)
        assert.ok(have.includes('registry.k8s.io/coredns/coredns:v1.12.1'), 'nested coredns path on registry.k8s.io')
        // what the kubelet will see through the CRI: every name, and the sandbox image pinned where the CRI pins
        const cri = await criImages(rt().paths.containerdSocket)
        const tags = cri.flatMap((i) => i.repoTags)
        for (const [name] of UPSTREAM_SET) assert.ok(tags.includes(name), `CRI does not list ${name}: ${tags.join(', ')}`)
        if (major === 2) assert.equal(cri.find((i) => i.repoTags.includes('registry.k8s.io/pause:3.10.1'))?.pinned, true)
      })

      it("the cache's export brings every image back into an empty store, each blob's digest checked; a damaged archive is refused, as a warning", async () => {
        const mirror = `http://${registry.host}`
        const plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `registry.k8s.io=${mirror}\nghcr.io=${mirror}\ndocker.io=${mirror}` }),
          facts: factsFor(rt()),
          version: VERSION,
          paths: rt().paths
        })
        await configureThen(rt(), plan, ['images.preload'], bed())
        const images = plan.learned.preloaded!
        assert.equal(images.length, UPSTREAM_SET.length)
        // the command the post step runs, built by the runtime from the record's data
        const archive = join(dir, `cache-${major}.tar`)
        await withCtr(rt(), () => run(RUNTIMES.containerd.exportArgv(rt().paths, plan.runtime.storeRef(plan.learned), archive, images), { privileged: true }))
        const emptyStore = async (): Promise<void> => {
          await rt().daemon.stop()
          await rm(join(dir, `containerd${major}`, 'var'), { recursive: true, force: true })
          await configureThen(rt(), plan, [], bed())
          assert.deepEqual(await k8sImages(rt()), [])
        }
        await emptyStore()
        const warnings: string[] = []
        const names = await withCtr(rt(), () => importCached(plan.runtime.imageStore(run, []), archive, { wanted: new Set(images), users: new Set() }, (w) => warnings.push(w), () => {}))
        assert.equal(warnings.length, 0, warnings.join('\n'))
        assert.deepEqual([...names].sort(), [...images].sort())
        const tags = (await criImages(rt().paths.containerdSocket)).flatMap((i) => i.repoTags)
        for (const image of images) assert.ok(tags.includes(image), `the CRI does not list ${image} after the import: ${tags.join(', ')}`)

        // one byte of one layer changed: the blob no longer has its digest
        const unpacked = join(dir, `cache-${major}`)
        await mkdir(unpacked, { recursive: true })
        await exec('tar', ['-xf', archive, '-C', unpacked])
        const blobs = join(unpacked, 'blobs', 'sha256')
        const sized = await Promise.all((await readdir(blobs)).map(async (n) => ({ n, size: (await stat(join(blobs, n))).size })))
        const layer = join(blobs, sized.sort((a, b) => b.size - a.size)[0].n)
        const bytes = await readFile(layer)
        bytes[bytes.length >> 1] ^= 0xff
        await writeFile(layer, bytes)
        const damaged = join(dir, `cache-${major}-damaged.tar`)
        await exec('tar', ['-cf', damaged, '-C', unpacked, '.'])
        await emptyStore()
        const none = await withCtr(rt(), () => importCached(plan.runtime.imageStore(run, []), damaged, { wanted: new Set(images), users: new Set() }, (w) => warnings.push(w), () => {}))
        assert.deepEqual(none, [])
        assert.match(warnings.join('\n'), /The cache entry's images could not be imported \(.*\); they are pulled instead\./)
        // ctr registers names as it goes; none may stay, or the preload would take them as present
        const left = (await k8sImages(rt())).filter((i) => images.includes(i))
        assert.deepEqual(left, [], 'no name of the damaged archive is left for the preload to skip')
      })
    })
  }

  describe('archives and faults (containerd 2.x)', () => {
    const rt = (): Runtime => runtimes.find((r) => r.major === 2)!
    const bed = (): Bed => ({ services: bedServices({ containerd: rt().daemon }), paths: rt().paths, scratch: dir })
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
      await configureThen(rt(), plan, ['images.preload'], bed())
      assert.equal(plan.learned.imageCounts?.imported, 1)
      assert.ok((await k8sImages(rt())).includes(name))
      assert.equal(plan.learned.imageCounts?.pulled, 7, 'the seven kubeadm images were pulled, the archived one was not')
    })

    it('retries a registry that answers 500, then succeeds', async () => {
      await fresh()
      // enough 500s to outlast containerd's own fallbacks (HEAD, then GET), so the action's retry shows
      const rule = { path: /\/google_containers\/pause\/manifests\//, statuses: [500, 500, 500] }
      proxy.rules.splice(0, proxy.rules.length, rule)
      const lines = await configureThen(rt(), viaProxy(), ['images.preload'], bed())
      assert.ok((rule as { hits?: number }).hits! >= 1, 'the fault was served')
      assert.ok(lines.some((l) => /pull of .*pause:3\.10\.1 failed .*; attempt 2 of 3/.test(l)), lines.join('\n'))
      assert.ok((await k8sImages(rt())).includes(`${proxy.host}/google_containers/pause:3.10.1`))
    })

    it('fails on 429 with a message about rate limits and mirrors', async () => {
      await fresh()
      proxy.rules.splice(0, proxy.rules.length, { path: /\/google_containers\/etcd\/manifests\//, statuses: [429, 429, 429, 429, 429, 429] })
      // etcd as kubeadm names it for this version, through the proxy
      const etcd = predictKubeadmImages(VERSION, `${proxy.host}/google_containers`)!.find((i) => /\/etcd:/.test(i))!
      await assert.rejects(
        configureThen(rt(), viaProxy(), ['images.preload'], bed()),
        new RegExp(`Pulling ${escapeRegExp(etcd)} was refused with HTTP 429 \\(rate limit\\).*set registry-mirrors`, 's')
      )
    })

    it('names a missing image and where it looked', async () => {
      await fresh()
      proxy.rules.length = 0
      const missing = `${proxy.host}/google_containers/not-there:1.0`
      await assert.rejects(
        configureThen(rt(), viaProxy({ 'preload-images': missing }), ['images.preload'], bed()),
        new RegExp(`Image ${missing.replace(/\./g, '\\.')} was not found \\(looked at http://${proxy.host.replace(/\./g, '\\.')}\\)`)
      )
    })
  })

  describe('Docker', () => {
    let docker: Daemon
    let paths: Paths
    let env: NodeJS.ProcessEnv
    const units = (): Record<string, Daemon> => ({ docker })
    // what the Docker steps changed, for the cleanup test to undo
    const ledger = new Ledger()
    // the host's existing file, with keys of its own (vfs: no overlay inside this VM's tmpfs),
    // laid out unlike the action's rendering so that byte for byte means something
    const existing = { 'storage-driver': 'vfs', 'log-level': 'warn' }
    const existingText = `${JSON.stringify(existing)}\n`
    // a job's service container, running before the action touches Docker
    const container = 'ksn-bed-service'
    let dockerdPid: number | undefined
    let service: { Running: boolean; Pid: number; StartedAt: string }
    const info = async (): Promise<any> => JSON.parse((await exec('docker', ['info', '--format', '{{json .}}'], { env })).stdout)
    /** dockerd's reload events since `since` (epoch ms): one for each SIGHUP it has handled, with what it then runs with. */
    const reloads = async (since: number): Promise<Array<Record<string, string>>> => {
      const window = ['--since', (since / 1000).toFixed(3), '--until', (Date.now() / 1000).toFixed(3)]
      const { stdout } = await exec('docker', ['events', ...window, '--filter', 'type=daemon', '--filter', 'event=reload', '--format', '{{json .Actor.Attributes}}'], { env })
      return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
    }
    const serviceState = async (): Promise<typeof service> => {
      const { Running, Pid, StartedAt } = JSON.parse((await exec('docker', ['inspect', '--format', '{{json .State}}', container], { env })).stdout)
      return { Running, Pid, StartedAt }
    }
    before(async () => {
      const d = join(dir, 'docker')
      await mkdir(d, { recursive: true })
      paths = { ...runtimes[0].paths, dockerDaemonJson: join(d, 'etc/docker/daemon.json'), backupDir: join(d, 'backup') }
      env = { ...process.env, DOCKER_HOST: `unix://${join(d, 'docker.sock')}` }
      docker = new Daemon(
        'dockerd',
        () => [BINS.dockerd, '--config-file', paths.dockerDaemonJson, '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', `unix://${join(d, 'docker.sock')}`, '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
        join(d, 'dockerd.log')
      )
    })
    after(async () => {
      // removed first: dockerd would otherwise wait out the container's stop timeout
      if (docker?.running) await exec('docker', ['rm', '--force', container], { env }).catch(() => {})
      await docker?.stop()
    })

    it("accepts the daemon.json the action renders, keeping the host's own keys, applied by a reload that keeps containers running", async () => {
      const mirror = `http://${registry.host}`
      await mkdir(dirname(paths.dockerDaemonJson), { recursive: true })
      await writeFile(paths.dockerDaemonJson, existingText)
      docker.start()
      await waitFor('dockerd', async () => (await exec('docker', ['info', '--format', '{{.ServerVersion}}'], { env })).stdout.trim() !== '')
      // the service container: an empty image running the host's own sleep, /usr (and the loader's dirs) mounted read-only
      const archive = join(dir, 'service-docker.tar')
      await dockerArchive(await buildImage(dir, 'docker-service', [1024]), archive, 'ksn.test/service:1')
      await exec('docker', ['load', '--input', archive], { env })
      const mounts = ['/usr', '/lib', '/lib64'].filter((m) => existsSync(m)).flatMap((m) => ['--volume', `${m}:${m}:ro`])
      await exec('docker', ['run', '--detach', '--name', container, '--network', 'none', ...mounts, 'ksn.test/service:1', '/usr/bin/sleep', 'infinity'], { env })
      service = await serviceState()
      assert.equal(service.Running, true)
      dockerdPid = docker.pid
      assert.deepEqual((await info()).RegistryConfig.Mirrors, [])

      const plan = buildPlan({
        config: config({ 'kubernetes-version': VERSION, 'registry-mirrors': `docker.io=${mirror}` }),
        facts: { ...factsFor(runtimes[0]), daemonJsonExists: true, daemonJson: existing },
        version: VERSION,
        paths
      })
      const t0 = Date.now()
      await runSteps(plan, ['runtime.docker-mirrors'], { services: bedServices(units()), paths, scratch: dir, ledger })
      const change = fileChange(ledger, paths.dockerDaemonJson)
      assert.ok(change?.backup, `the ledger keeps the original for cleanup: ${JSON.stringify(ledger.changes)}`)
      assert.deepEqual(JSON.parse(await readFile(change.backup, 'utf8')), existing, 'the original is kept for cleanup')
      assert.ok(ledger.changes.some((c) => c.kind === 'unit-reloaded' && c.unit === 'docker'), 'a reload, recorded for cleanup')
      // SIGHUP is handled as dockerd gets to it
      await waitFor('dockerd to reload', async () => (await reloads(t0)).length === 1)
      const now = await info()
      assert.deepEqual(now.RegistryConfig.Mirrors, [`${mirror}/`])
      assert.equal(now.Driver, 'vfs')
      // applied by a reload: the same dockerd, and the service container never stopped
      assert.equal(docker.pid, dockerdPid, 'dockerd was reloaded, not restarted')
      assert.deepEqual(await serviceState(), service)
    })

    it("cleanup puts the host's daemon.json back, byte for byte, and reloads dockerd with it", async () => {
      const backup = fileChange(ledger, paths.dockerDaemonJson)?.backup
      assert.ok(backup)
      const t0 = Date.now()
      const report = await undo(ledger, units(), paths)
      assert.deepEqual(report.failed, [])
      assert.deepEqual(await readFile(paths.dockerDaemonJson), Buffer.from(existingText), 'the original, byte for byte')
      assert.equal(existsSync(backup), false, 'the backup is gone once it is back')
      // reloaded once the file was back: the same dockerd, which kept the service container running
      await waitFor('dockerd to reload', async () => (await reloads(t0)).length === 1)
      assert.equal(docker.pid, dockerdPid, 'dockerd was reloaded, not restarted')
      assert.equal((await info()).Driver, 'vfs')
      assert.deepEqual(await serviceState(), service, 'the service container kept running')
    })

    // dockerd's reload applies registry-mirrors only when the file sets the key (moby's
    // reloadRegistryConfig checks IsValueSet): cleanup reloads with an explicit empty list first
    it("leaves dockerd without the action's mirrors after cleanup's reload", async () => {
      assert.deepEqual((await info()).RegistryConfig.Mirrors, [])
    })

    it('loads an archive and retags it under the name the cluster asks for', async () => {
      const store = dockerStore(run, { dockerHost: env.DOCKER_HOST })
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
