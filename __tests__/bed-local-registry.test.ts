// local-registry against real parts: the plan's own step starts the registry container in a
// real dockerd and records it; `docker push localhost:PORT/…` works with Docker's defaults;
// real containerd 1.6 and 2.x, configured by the plan's runtime.configure, pull
// localhost:PORT/… through the CRI (crictl) over plain HTTP, and only that host; cleanup
// removes the container, its volume and the hosts.toml.
//
// No registry image can be pulled on this machine, so the image the step runs
// (docker.io/library/registry:3.1.2) is stood in for by one made here from Debian's
// docker-registry binary (the same distribution project's registry), with the upstream
// image's port, storage path and volume. dockerd gets a bridge of the test's own (so that
// --publish works) and no iptables rules: 127.0.0.1 is served by docker-proxy.
// Skips, saying what is missing, without root, the bed's packages or crictl.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { REGISTRY_CONTAINER, REGISTRY_IMAGE } from '../src/addons/local-registry/container.js'
import { execute } from '../src/engine/execute.js'
import type { Step, StepId } from '../src/engine/step.js'
import { createRun } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { addonNamed } from '../src/addons/index.js'
import { hintsFor } from '../src/engine/diagnostics.js'
import { pathsUnder, type Paths } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import { buildPlan, type Plan } from '../src/phases/index.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { Daemon, bedServices, waitFor, withBedSystemctl } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { buildImage, dockerArchive } from './bed/images.js'
import { freePort } from './bed/registry.js'
import { config, hostedRunner } from './helpers/facts.js'

const exec = promisify(execFile)
const CRICTL = process.env.KSN_CRICTL ?? '/opt/ksn-cri-tools/crictl'
const DOCKER_PROXY = '/usr/sbin/docker-proxy'
const skip =
  bedUnavailable() ||
  (!existsSync(CRICTL) ? `crictl is missing at ${CRICTL}: unpack cri-tools' release there (or set KSN_CRICTL)` : false) ||
  (!existsSync(DOCKER_PROXY) ? `docker-proxy is missing at ${DOCKER_PROXY}: install Debian's docker.io` : false)
console.log(skip ? `# SKIP local-registry bed: ${skip}` : '# local-registry bed: runs (dockerd, containerd 1.6 and 2.x, a registry container)')

const VERSION = 'v1.34.2'
const run = createRun({ sudo: false, debug: () => {} })
// a bridge of the test's own, so that docker run --publish has a network; an address unlikely to be in use
const BRIDGE = 'ksnreg0'
const BRIDGE_CIDR = '10.237.91.1/24'

async function fails(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    const e = err as Error & { stderr?: string }
    return `${e.message}\n${e.stderr ?? ''}`
  }
  assert.fail('expected a failure')
}

/** A rootfs of `bin` and the libraries ldd names for it, as a tar for `docker import`. */
async function rootfsTar(dir: string, bin: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, 'rootfs')
  const { stdout } = await exec('ldd', [bin])
  const libs = [...stdout.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1])
  for (const f of [bin, ...libs]) {
    await mkdir(join(root, dirname(f)), { recursive: true })
    await copyFile(f, join(root, f))
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, dirname(path)), { recursive: true })
    await writeFile(join(root, path), content)
  }
  await mkdir(join(root, 'var/lib/registry'), { recursive: true })
  await mkdir(join(root, 'tmp'), { recursive: true })
  const tar = join(dir, 'rootfs.tar')
  await exec('tar', ['-C', root, '-cf', tar, '.'])
  return tar
}

describe('local-registry on real parts', { skip }, () => {
  let dir: string
  let port: number
  let docker: Daemon
  let env: NodeJS.ProcessEnv
  let savedDockerHost: string | undefined
  const containerds: Array<{ major: 1 | 2; paths: Paths; daemon: Daemon; ctr: string }> = []
  // what the plan's steps changed, for the cleanup test to undo
  const ledger = new Ledger()
  const dockerCli = (args: string[]) => exec('docker', args, { env })

  const facts = (major: 1 | 2): HostFacts => ({ ...hostedRunner, privilege: 'root', containerd: { version: major === 1 ? '1.6.39' : '2.1.9', major } })
  const planFor = (paths: Paths, major: 1 | 2): Plan =>
    buildPlan({ config: config({ 'kubernetes-version': VERSION, 'local-registry': String(port) }), facts: facts(major), version: VERSION, paths })
  const buildPlanFor = (p: number): Plan =>
    buildPlan({ config: config({ 'kubernetes-version': VERSION, 'local-registry': String(p) }), facts: facts(1), version: VERSION, paths: containerds[0].paths })

  /** The named steps of the plan, one at a time, on the bed's daemons (the bed stands in for their needs). */
  async function runSteps(plan: Plan, ids: StepId[], paths: Paths, units: Record<string, Daemon>, l: Ledger): Promise<void> {
    const host = createHost({ run, services: bedServices(units), ledger: l, ...paths, scratch: dir })
    for (const id of ids) {
      const s = plan.steps.find((x) => x.id === id)
      assert.ok(s, `the plan has no step ${id}`)
      await execute([{ ...s, needs: [] } as Step], { host, learned: plan.learned })
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-bed-registry-'))
    port = await freePort()
    await exec('ip', ['link', 'add', BRIDGE, 'type', 'bridge'])
    await exec('ip', ['addr', 'add', BRIDGE_CIDR, 'dev', BRIDGE])
    await exec('ip', ['link', 'set', BRIDGE, 'up'])
    const d = join(dir, 'docker')
    await mkdir(d, { recursive: true })
    await writeFile(join(d, 'daemon.json'), '{}\n')
    const host = `unix://${join(d, 'docker.sock')}`
    env = { ...process.env, DOCKER_HOST: host }
    // the step's own docker commands reach this dockerd
    savedDockerHost = process.env.DOCKER_HOST
    process.env.DOCKER_HOST = host
    docker = new Daemon(
      'dockerd',
      // Docker's defaults for registries: no insecure-registries, no mirrors
      () => [BINS.dockerd, '--config-file', join(d, 'daemon.json'), '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', host, '--bridge', BRIDGE, '--iptables=false', '--ip6tables=false', '--storage-driver', 'vfs'],
      join(d, 'dockerd.log')
    )
    docker.start()
    await waitFor('dockerd', async () => (await dockerCli(['info', '--format', '{{.ServerVersion}}'])).stdout.trim() !== '')
    // the stand-in for the registry image: the upstream image's port, storage and volume
    const registryConfig = 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n'
    const tar = await rootfsTar(dir, BINS.registry, { '/etc/distribution/config.yml': registryConfig })
    await dockerCli([
      'import',
      '--change', `ENTRYPOINT ["${BINS.registry}", "serve", "/etc/distribution/config.yml"]`,
      '--change', 'EXPOSE 5000',
      '--change', 'VOLUME /var/lib/registry',
      tar,
      REGISTRY_IMAGE
    ])
    // an application image to push
    const archive = join(dir, 'app.tar')
    await dockerArchive(await buildImage(dir, 'app', [16 * 1024]), archive, 'ksn.test/app:1')
    await dockerCli(['load', '--input', archive])
    for (const major of [1, 2] as const) {
      const root = join(dir, `containerd${major}`)
      const paths = pathsUnder(root)
      await mkdir(dirname(paths.containerdSocket), { recursive: true })
      const bin = major === 1 ? BINS.containerd1 : BINS.containerd2
      const daemon = new Daemon(
        `containerd${major}`,
        () => [bin, '--config', paths.containerdConfig, '--root', join(root, 'var/lib/containerd'), '--state', join(root, 'run/containerd/state'), '--address', paths.containerdSocket],
        join(root, 'containerd.log')
      )
      containerds.push({ major, paths, daemon, ctr: major === 1 ? BINS.ctr1 : BINS.ctr2 })
    }
  })

  after(async () => {
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = savedDockerHost
    for (const c of containerds) await c.daemon.stop()
    // removed first: dockerd would otherwise wait out the container's stop timeout
    if (docker?.running) await dockerCli(['rm', '--force', '--volumes', REGISTRY_CONTAINER]).catch(() => {})
    await docker?.stop()
    await exec('ip', ['link', 'delete', BRIDGE]).catch(() => {})
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("starts the registry container the plan's step describes, recorded in the ledger, published on 127.0.0.1 only", async () => {
    const plan = planFor(containerds[0].paths, 1)
    await runSteps(plan, ['addons.local-registry'], containerds[0].paths, {}, ledger)
    assert.deepEqual(
      ledger.changes.filter((c) => c.kind === 'container'),
      [{ kind: 'container', name: REGISTRY_CONTAINER }]
    )
    const state = JSON.parse((await dockerCli(['inspect', '--format', '{{json .}}', REGISTRY_CONTAINER])).stdout)
    assert.equal(state.State.Running, true)
    assert.equal(state.Config.Image, REGISTRY_IMAGE)
    assert.equal(state.HostConfig.RestartPolicy.Name, 'always')
    assert.ok(state.Config.Env.includes('OTEL_TRACES_EXPORTER=none'), JSON.stringify(state.Config.Env))
    assert.deepEqual(state.HostConfig.PortBindings, { '5000/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] })
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2/`)).status, 200)
  })

  it('docker push localhost:PORT/app:1 works with Docker\'s defaults: loopback is an insecure registry unless configured otherwise', async () => {
    const info = JSON.parse((await dockerCli(['info', '--format', '{{json .RegistryConfig}}'])).stdout)
    // nothing names the registry: only the default CIDRs let Docker speak plain HTTP to it
    assert.ok(info.InsecureRegistryCIDRs.includes('127.0.0.0/8'), JSON.stringify(info))
    assert.equal(Object.keys(info.IndexConfigs).some((k) => k.includes(String(port))), false)
    await dockerCli(['tag', 'ksn.test/app:1', `localhost:${port}/app:1`])
    await dockerCli(['push', `localhost:${port}/app:1`])
    const tags = (await (await fetch(`http://127.0.0.1:${port}/v2/app/tags/list`)).json()) as { tags: string[] }
    assert.deepEqual(tags.tags, ['1'])
    // and pulls back by the same name
    await dockerCli(['rmi', `localhost:${port}/app:1`])
    await dockerCli(['pull', `localhost:${port}/app:1`])
  })

  for (const major of [1, 2] as const) {
    it(`containerd ${major}.x pulls localhost:PORT/app:1 through the CRI over plain HTTP, by the hosts.toml runtime.configure writes, and for that host only`, async () => {
      const c = containerds.find((x) => x.major === major)!
      const units = { containerd: c.daemon }
      const plan = planFor(c.paths, major)
      const local = new Ledger()
      await runSteps(plan, ['runtime.configure'], c.paths, units, local)
      await waitForContainerd({ run, ctr: c.ctr, address: c.paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => c.daemon.logs(30) })
      const hostsToml = join(c.paths.certsDir, `localhost:${port}`, 'hosts.toml')
      assert.equal(await readFile(hostsToml, 'utf8'), `server = "http://localhost:${port}"\n`)
      const crictl = (...args: string[]) => exec(CRICTL, ['--runtime-endpoint', `unix://${c.paths.containerdSocket}`, '--image-endpoint', `unix://${c.paths.containerdSocket}`, ...args])
      await crictl('pull', `localhost:${port}/app:1`)
      const images = JSON.parse((await crictl('images', '-o', 'json')).stdout) as { images: Array<{ repoTags: string[] }> }
      assert.ok(images.images.some((i) => i.repoTags.includes(`localhost:${port}/app:1`)), JSON.stringify(images))
      // plain HTTP for that host, not for others: the same registry at its container's
      // address (a host that is not loopback, with no hosts.toml) is asked over HTTPS, which
      // a plain-HTTP server refuses
      const ip = (await dockerCli(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', REGISTRY_CONTAINER])).stdout.trim()
      assert.match(ip, /^10\.237\.91\.\d+$/)
      assert.match(await fails(crictl('pull', `${ip}:5000/app:1`)), /HTTP response to HTTPS client/)
      // containerd's own default, beside the hosts.toml: a loopback host with a port and no
      // hosts.toml is plain HTTP too (ConfigureHosts, docker.IsLocalhost, in 1.6's
      // remotes/docker/config/hosts.go and 2.x's core/remotes/docker/config/hosts.go); said
      // here so that a containerd that changes it shows up
      await crictl('pull', `127.0.0.1:${port}/app:1`)
      // cleanup takes the hosts.toml away again
      const report = await undoChanges(local.changes, { run: withBedSystemctl(run, units), services: bedServices(units), ...c.paths })
      assert.deepEqual(report.failed, [])
      assert.equal(existsSync(hostsToml), false)
    })
  }

  it('cleanup removes the container and its volume, and a second cleanup finds nothing to do', async () => {
    const volumes = JSON.parse((await dockerCli(['inspect', '--format', '{{json .Mounts}}', REGISTRY_CONTAINER])).stdout) as Array<{ Type: string; Name: string }>
    const volume = volumes.find((m) => m.Type === 'volume')?.Name
    assert.ok(volume, `the image's volume: ${JSON.stringify(volumes)}`)
    const undo = () => undoChanges(ledger.changes, { run, services: bedServices({}), ...containerds[0].paths })
    const first = await undo()
    assert.deepEqual(first.failed, [])
    assert.ok(first.undone.includes(`Docker container ${REGISTRY_CONTAINER} (created)`), JSON.stringify(first))
    assert.equal((await dockerCli(['ps', '--all', '--quiet', '--filter', `name=^${REGISTRY_CONTAINER}$`])).stdout.trim(), '')
    assert.equal((await dockerCli(['volume', 'ls', '--quiet'])).stdout.split('\n').includes(volume), false)
    const second = await undo()
    assert.deepEqual(second.failed, [])
    assert.deepEqual(second.remaining, [])
  })

  it('refuses to start where a container of that name is already there, recording nothing and leaving it be', async () => {
    await dockerCli(['create', '--name', REGISTRY_CONTAINER, REGISTRY_IMAGE])
    const mine = new Ledger()
    const plan = planFor(containerds[0].paths, 1)
    const err = await fails(runSteps(plan, ['addons.local-registry'], containerds[0].paths, {}, mine))
    assert.match(err, new RegExp(`already has a container named ${REGISTRY_CONTAINER}`))
    assert.deepEqual(mine.changes.filter((c) => c.kind === 'container'), [])
    // still there: it was not the run's to remove
    assert.notEqual((await dockerCli(['ps', '--all', '--quiet', '--filter', `name=^${REGISTRY_CONTAINER}$`])).stdout.trim(), '')
    await dockerCli(['rm', REGISTRY_CONTAINER])
  })

  it('a port something else holds fails the step with a hint, and cleanup still removes the container docker run left created', async () => {
    const busy = await freePort()
    const holder = createServer()
    await new Promise<void>((r) => holder.listen(busy, '127.0.0.1', r))
    try {
      const mine = new Ledger()
      const plan = buildPlanFor(busy)
      const err = await fails(runSteps(plan, ['addons.local-registry'], containerds[0].paths, {}, mine))
      assert.match(hintsFor(addonNamed('local-registry')!.hints, err).join('\n'), /give local-registry another port/, err)
      assert.deepEqual(mine.changes.filter((c) => c.kind === 'container'), [{ kind: 'container', name: REGISTRY_CONTAINER }])
      const report = await undoChanges(mine.changes, { run, services: bedServices({}), ...containerds[0].paths })
      assert.deepEqual(report.failed, [])
      assert.equal((await dockerCli(['ps', '--all', '--quiet', '--filter', `name=^${REGISTRY_CONTAINER}$`])).stdout.trim(), '')
    } finally {
      await new Promise((r) => holder.close(r))
    }
  })
})
