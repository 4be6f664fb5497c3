// load-images: images a job built with Docker, copied into containerd's k8s.io namespace by
// the plan's images.load step. The dry run and the preflight's words need no daemon; the
// rest runs against a real dockerd and real containerd 1.6 and 2.x (the test bed's private
// daemons, each in its own temporary root): an image made with `docker import` from Debian's
// busybox-static, saved and imported as the action does, then asked for through the CRI as
// the kubelet will.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { renderPlan } from '../src/engine/describe.js'
import { execute } from '../src/engine/execute.js'
import { createRun } from '../src/host/exec.js'
import { createHost } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { HOST_PATHS, pathsUnder, type Paths } from '../src/host/paths.js'
import { probeDocker } from '../src/host/probe.js'
import { loadImageProblems } from '../src/images/docker.js'
import { buildPlan, type Plan } from '../src/phases/index.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { criImages } from './bed/cri.js'
import { Daemon, bedServices, waitFor } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { config, hostedRunner } from './helpers/facts.js'

const exec = promisify(execFile)
const VERSION = 'v1.34.2'
const BUSYBOX = '/bin/busybox'
const run = createRun({ sudo: false, debug: () => {} })

describe('load-images, without daemons', () => {
  it('the dry run shows docker save, the import and the check, before the preload', () => {
    const plan = buildPlan({ config: config({ 'kubernetes-version': VERSION, 'load-images': 'my-app:ci\nghcr.io/org/tool:1.2' }), facts: hostedRunner, version: VERSION, paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /\[images\] images\.load: load 2 images from Docker {2}\(after runtime\.ready\)/)
    assert.match(text, /\$ docker save --output '<temporary directory>\/images\.tar' docker\.io\/library\/my-app:ci ghcr\.io\/org\/tool:1\.2/)
    assert.match(text, /\$ sudo ctr --address \/var\/run\/containerd\/containerd\.sock --namespace k8s\.io images import --local '<temporary directory>\/images\.tar'/)
    assert.ok(plan.steps.find((s) => s.id === 'images.preload')!.needs.includes('images.load'), 'what the load brings is not pulled')
    assert.equal(buildPlan({ config: config({ 'kubernetes-version': VERSION }), facts: hostedRunner, version: VERSION, paths: HOST_PATHS }).steps.some((s) => s.id === 'images.load'), false)
  })

  it('the dry run pulls no image load-images brings, even one the cluster asks for (the smoke test runs it)', () => {
    const c = config({ 'kubernetes-version': VERSION, 'load-images': 'my-app:ci', 'smoke-test-image': 'my-app:ci' })
    const plan = buildPlan({ config: c, facts: hostedRunner, version: VERSION, paths: HOST_PATHS })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /docker save --output .* docker\.io\/library\/my-app:ci/)
    assert.doesNotMatch(text, /images pull .*my-app:ci/)
    assert.match(text, /images pull .*registry\.k8s\.io\/kube-apiserver:v1\.34\.2/, 'the rest is still pulled')
  })

  it('refuses a digest, naming the input and the accepted forms', () => {
    assert.throws(() => config({ 'load-images': 'my-app@sha256:' + 'a'.repeat(64) }), /Input 'load-images' has the value "my-app@sha256:a+"; accepted: the name of an image in this host's Docker, .*not a digest/)
  })

  it('a host without Docker stops the run in the preflight, naming the input', async () => {
    const problems = await loadImageProblems(['docker.io/library/my-app:ci'], { docker: false }, run)
    assert.match(problems[0], /^Input 'load-images' names docker\.io\/library\/my-app:ci, but this host has no docker command/)
  })
})

const skip = bedUnavailable() || (existsSync(BUSYBOX) ? false : `no ${BUSYBOX}: install Debian's busybox-static (.ci/run does)`)

describe('load-images against real Docker and containerd', { skip }, () => {
  let dir: string
  let docker: Daemon
  const savedEnv = { ...process.env }
  const images = ['ksn.test/app:ci', 'my-app:ci']
  let ids: Record<string, string>

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-load-'))
    const d = join(dir, 'docker')
    await mkdir(join(d, 'etc'), { recursive: true })
    // vfs: no overlay inside this VM's tmpfs
    await writeFile(join(d, 'etc/daemon.json'), '{"storage-driver": "vfs"}\n')
    process.env.DOCKER_HOST = `unix://${join(d, 'docker.sock')}`
    process.env.RUNNER_TEMP = join(dir, 'temp')
    await mkdir(process.env.RUNNER_TEMP)
    docker = new Daemon(
      'dockerd',
      () => [BINS.dockerd, '--config-file', join(d, 'etc/daemon.json'), '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', process.env.DOCKER_HOST!, '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
      join(d, 'dockerd.log')
    )
    docker.start()
    await waitFor('dockerd', async () => (await exec('docker', ['info', '--format', '{{.ServerVersion}}'])).stdout.trim() !== '')
    // an image built here, from a root file system holding busybox, as a job's `docker build` would leave one
    const rootfs = join(dir, 'rootfs')
    await mkdir(join(rootfs, 'bin'), { recursive: true })
    await exec('cp', [BUSYBOX, join(rootfs, 'bin/busybox')])
    await exec('tar', ['-cf', join(dir, 'rootfs.tar'), '-C', rootfs, '.'])
    await exec('docker', ['import', '--change', 'CMD ["/bin/busybox", "sh"]', join(dir, 'rootfs.tar'), images[0]])
    await exec('docker', ['tag', images[0], images[1]])
    ids = Object.fromEntries(await Promise.all(images.map(async (i) => [i, (await exec('docker', ['image', 'inspect', '--format', '{{.Id}}', i])).stdout.trim()])))
  })

  after(async () => {
    await docker?.stop()
    process.env = savedEnv
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('the preflight finds the images in Docker, and names one it lacks', async () => {
    const facts = { docker: true, ...(await probeDocker(run, true)) }
    assert.equal(facts.dockerEngine?.via, 'user', 'the bed runs as root: Docker answers without sudo')
    assert.deepEqual(await loadImageProblems(images, facts, run), [])
    const problems = await loadImageProblems([...images, 'ksn.test/not-built:1'], facts, run)
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^Input 'load-images' names ksn\.test\/not-built:1, which this host's Docker does not have \(.*No such image.*\); accepted: names of images in this host's Docker/)
  })

  it('a Docker that does not answer stops the run in the preflight', async () => {
    const saved = process.env.DOCKER_HOST
    process.env.DOCKER_HOST = `unix://${join(dir, 'no-such.sock')}`
    try {
      const problems = await loadImageProblems(images, { docker: true, ...(await probeDocker(run, true)) }, run)
      assert.match(problems[0], /^Input 'load-images' names .*, but this host's Docker does not answer \(`docker info` failed: .*no-such\.sock/)
    } finally {
      process.env.DOCKER_HOST = saved
    }
  })

  for (const major of [1, 2] as const) {
    it(`images.load puts them in containerd ${major}.x's k8s.io namespace, where the CRI lists them under the names pods use`, async () => {
      const root = join(dir, `containerd${major}`)
      const paths: Paths = pathsUnder(root)
      await mkdir(join(paths.containerdSocket, '..'), { recursive: true })
      const bin = major === 1 ? BINS.containerd1 : BINS.containerd2
      const ctr = major === 1 ? BINS.ctr1 : BINS.ctr2
      const containerd = new Daemon(
        `containerd${major}`,
        () => [bin, '--config', paths.containerdConfig, '--root', join(root, 'var/lib/containerd'), '--state', join(root, 'run/containerd/state'), '--address', paths.containerdSocket],
        join(root, 'containerd.log')
      )
      try {
        const plan: Plan = buildPlan({
          config: config({ 'kubernetes-version': VERSION, 'load-images': images.join('\n'), cni: 'none', 'smoke-test': 'false' }),
          // the probe's one question to Docker, which the load reads
          facts: { ...hostedRunner, privilege: 'root', containerd: { version: major === 1 ? '1.6.39' : '2.1.9', major }, ...(await probeDocker(run, true)) },
          version: VERSION,
          paths
        })
        const host = createHost({ run, services: bedServices({ containerd }), ledger: new Ledger(), ...paths, scratch: dir })
        const lines: string[] = []
        const step = (id: string) => ({ ...plan.steps.find((s) => s.id === id)!, needs: [] })
        // the action's containerd config, then the load with the matching ctr first on PATH
        await execute([step('runtime.configure')], { host, learned: plan.learned })
        await waitForContainerd({ run, ctr, address: paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => containerd.logs(30) })
        process.env.PATH = `${join(ctr, '..')}:${savedEnv.PATH}`
        await execute([step('images.load')], { host, learned: plan.learned }, { onEnd: (_s, _t, l) => lines.push(...l) })
        assert.match(lines.join('\n'), /loaded from Docker: ksn\.test\/app:ci, docker\.io\/library\/my-app:ci/)

        const listed = (await exec(ctr, ['--address', paths.containerdSocket, '--namespace', 'k8s.io', 'images', 'list', '--quiet'])).stdout.split('\n')
        for (const name of ['ksn.test/app:ci', 'docker.io/library/my-app:ci']) assert.ok(listed.includes(name), `${name} not in k8s.io: ${listed.join(', ')}`)
        // as the kubelet sees them: the names a pod spec writes, the image Docker built
        const cri = await criImages(paths.containerdSocket)
        for (const [given, name] of [[images[0], 'ksn.test/app:ci'], [images[1], 'docker.io/library/my-app:ci']]) {
          const image = cri.find((i) => i.repoTags.includes(name))
          assert.ok(image, `the CRI does not list ${name}: ${JSON.stringify(cri)}`)
          assert.equal(image.id, ids[given], 'the very image Docker has')
        }
        assert.deepEqual((await readdir(process.env.RUNNER_TEMP!)).filter((n) => n.startsWith('ksn-load-')), [], 'the temporary archive is gone')
      } finally {
        process.env.PATH = savedEnv.PATH
        await containerd.stop()
      }
    })
  }
})
