// registry-credentials against real parts: Debian's docker-registry refusing anonymous pulls
// (htpasswd basic auth), real containerd 1.6 and 2.1 loading the config.toml the action
// renders (1.x: with registry.configs; 2.x: without, the login going with each PullImage from
// the kubelet's credential provider, which is run here as the kubelet runs it: no kubelet can
// run in this bed), and a real dockerd reading the config.json the action writes. Each case is shown
// failing without the credentials first, so that a pull that succeeds means the credentials
// were used. The preload pulls through the CRI with cri-tools' real crictl (found as the system
// tests find it, __tests__/system/cri-tools.ts; Debian packages no crictl): what it shows is
// containerd taking the credentials from its config, with none on the command line.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { execute } from '../src/engine/execute.js'
import type { Step, StepId } from '../src/engine/step.js'
import { createRun } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { pathsUnder, type Paths } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import { buildPlan, type Plan } from '../src/phases/index.js'
import { credentialProviderFiles } from '../src/runtimes/containerd/credentials.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { criPull } from './bed/cri.js'
import { Daemon, bedServices, waitFor, withBedSystemctl } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { criTools, crictlMissing } from './system/cri-tools.js'
import { buildImage, push } from './bed/images.js'
import { startRegistry, type Registry } from './bed/registry.js'
import { config, hostedRunner } from './helpers/facts.js'

const exec = promisify(execFile)
const skip = bedUnavailable()
const VERSION = 'v1.34.2'
const run = createRun({ sudo: false, debug: () => {} })

// a token with the characters the input's form must survive: ':' and '=' (and base64's '+/')
const USER = 'ci-bot'
const TOKEN = 'tok:en=with+col/ons=='

describe('registry-credentials against a registry that refuses anonymous pulls', { skip }, () => {
  let dir: string
  let registry: Registry
  let image: (name: string) => string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-bed-creds-'))
    const htpasswd = join(dir, 'htpasswd')
    // -i: the password from stdin; -B: bcrypt, the only hash distribution's htpasswd auth takes
    await new Promise<void>((resolve, reject) => {
      const child = execFile(BINS.htpasswd, ['-c', '-B', '-i', htpasswd, USER], (err) => (err ? reject(err) : resolve()))
      child.stdin!.end(TOKEN)
    })
    registry = await startRegistry(dir, { name: 'private', htpasswd })
    image = (name) => `${registry.host}/private/${name}:1`
    for (const name of ['preloaded', 'kubelet-pulled', 'docker-pulled']) await push(await buildImage(dir, name, [8 * 1024]), image(name), `${USER}:${TOKEN}`)
    // the registry really refuses anonymous pulls
    assert.equal((await fetch(`http://${registry.host}/v2/private/preloaded/manifests/1`)).status, 401)
  })

  after(async () => {
    await registry?.daemon.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const inputs = (withCredentials: boolean): Record<string, string> => ({
    'kubernetes-version': VERSION,
    cni: 'none',
    'smoke-test': 'false',
    // plain HTTP on loopback, as hosts.toml says it
    'registry-mirrors': `${registry.host}=http://${registry.host}`,
    ...(withCredentials ? { 'registry-credentials': `# the bed's user\n${registry.host}=${USER}:${TOKEN}` } : {})
  })

  for (const major of [1, 2] as const) {
    describe(`containerd ${major}.x`, { skip: crictlMissing() }, () => {
      let root: string
      let paths: Paths
      let daemon: Daemon
      let ctr: string
      const facts = (): HostFacts => ({ ...hostedRunner, privilege: 'root', containerd: { version: major === 1 ? '1.6.39' : '2.1.9', major } })

      before(async () => {
        root = join(dir, `containerd${major}`)
        paths = pathsUnder(root)
        await mkdir(join(paths.containerdSocket, '..'), { recursive: true })
        ctr = major === 1 ? BINS.ctr1 : BINS.ctr2
        const bin = major === 1 ? BINS.containerd1 : BINS.containerd2
        daemon = new Daemon(
          `containerd${major}`,
          () => [bin, '--config', paths.containerdConfig, '--root', join(root, 'var/lib/containerd'), '--state', join(root, 'run/containerd/state'), '--address', paths.containerdSocket],
          join(root, 'containerd.log')
        )
        // the crictl the action installs: the real one, where this host has it
        await mkdir(paths.binDir, { recursive: true })
        await copyFile(criTools().crictl!, join(paths.binDir, 'crictl'))
        await exec('chmod', ['0755', join(paths.binDir, 'crictl')])
      })
      after(() => daemon?.stop())

      /** The plan's runtime.configure, then containerd answering, then the given steps (kubeadm's own images left out). */
      async function configureThen(plan: Plan, ids: StepId[]): Promise<string[]> {
        const lines: string[] = []
        const host = createHost({ run, services: bedServices({ containerd: daemon }), ledger: new Ledger(), ...paths, scratch: dir })
        const runStep = async (id: StepId): Promise<void> => {
          const s = plan.steps.find((x) => x.id === id)
          assert.ok(s, `the plan has no step ${id}`)
          await execute([{ ...s, needs: [] } as Step], { host, learned: plan.learned }, { onEnd: (_s, _t, l) => lines.push(...l) })
        }
        await runStep('runtime.configure')
        await waitForContainerd({ run, ctr, address: paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => daemon.logs(30) })
        // only the private image: kubeadm's would need registry.k8s.io
        plan.learned.kubeadmImages = []
        const saved = process.env.PATH
        process.env.PATH = `${join(ctr, '..')}:${saved}`
        try {
          for (const id of ids) await runStep(id)
        } finally {
          process.env.PATH = saved
        }
        return lines
      }
      const planFor = (withCredentials: boolean, extra: Record<string, string> = {}): Plan =>
        buildPlan({ config: config({ ...inputs(withCredentials), ...extra }), facts: facts(), version: VERSION, paths })
      const images = async (): Promise<string[]> =>
        (await exec(ctr, ['--address', paths.containerdSocket, '--namespace', 'k8s.io', 'images', 'list', '--quiet'])).stdout.split('\n').filter((l) => l !== '')

      it('without credentials: the CRI pull and the preload are refused, and the preload says what to set', async () => {
        await daemon.stop()
        await rm(join(root, 'var'), { recursive: true, force: true })
        await assert.rejects(
          configureThen(planFor(false, { 'preload-images': image('preloaded') }), ['images.preload']),
          /Pulling .*private\/preloaded:1 was refused for want of credentials.*Set registry-credentials/s
        )
        await assert.rejects(criPull(paths.containerdSocket, image('kubelet-pulled')), /401|unauthorized|authoriz/i)
        assert.deepEqual((await images()).filter((i) => i.includes('/private/')), [])
      })

      if (major === 1)
        it("with credentials: containerd's config holds them for the host, root's alone, and the CRI pulls as the kubelet would", async () => {
        await daemon.stop()
        await rm(join(root, 'var'), { recursive: true, force: true })
        await configureThen(planFor(true), [])
        const text = await readFile(paths.containerdConfig, 'utf8')
        const st = await stat(paths.containerdConfig)
        assert.equal(st.mode & 0o777, 0o600, 'the file holding the token is 0600')
        assert.equal(st.uid, 0, 'and root-owned')
        assert.ok(text.includes(TOKEN), 'the real token, for containerd')
        // a CRI PullImage with no credentials in it, as for a pod without imagePullSecrets
        const ref = await criPull(paths.containerdSocket, image('kubelet-pulled'))
        assert.match(ref, /^sha256:/)
        assert.ok((await images()).includes(image('kubelet-pulled')))
      })

      if (major === 2)
        it('with credentials: config.toml holds none, and the provider, run as the kubelet runs it, answers a login the registry takes (a wrong one it refuses)', async () => {
          await daemon.stop()
          await rm(join(root, 'var'), { recursive: true, force: true })
          await configureThen(planFor(true), [])
          const text = await readFile(paths.containerdConfig, 'utf8')
          assert.ok(!text.includes(TOKEN) && !text.includes('configs'), 'no registry.configs: it goes in containerd v2.4')
          // nothing in containerd's own config: a PullImage with no login is refused
          await assert.rejects(criPull(paths.containerdSocket, image('kubelet-pulled')), /401|unauthorized|authoriz/i)
          const files = credentialProviderFiles(paths)
          const cfg = parseYaml(await readFile(files.config, 'utf8'))
          assert.equal(cfg.apiVersion, 'kubelet.config.k8s.io/v1')
          const provider = cfg.providers[0]
          assert.equal(join(files.binDir, provider.name), files.executable, 'the kubelet runs <bin dir>/<name>')
          assert.deepEqual(provider.matchImages, [registry.host])
          const st = await stat(files.response)
          assert.deepEqual([st.mode & 0o777, st.uid], [0o600, 0], "the login is root's alone")
          assert.equal((await stat(files.executable)).mode & 0o777, 0o755)
          assert.ok(!(await readFile(files.executable, 'utf8')).includes(TOKEN), 'the script holds no secret')
          // as the kubelet execs it (plugin.go ExecPlugin): the request on stdin, the response on stdout
          const request = { apiVersion: provider.apiVersion, kind: 'CredentialProviderRequest', image: `${registry.host}/private/kubelet-pulled` }
          const answer = await new Promise<string>((resolve, reject) => {
            const child = execFile(files.executable, [], { env: { PATH: '/usr/bin:/bin' } }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
            child.stdin!.end(JSON.stringify(request))
          })
          const response = JSON.parse(answer)
          assert.equal(response.apiVersion, provider.apiVersion, 'the kubelet refuses an answer in another apiVersion')
          assert.equal(response.kind, 'CredentialProviderResponse')
          assert.ok(['Image', 'Registry', 'Global'].includes(response.cacheKeyType))
          // the kubelet's keyring matches the image against the auth keys: host and port
          const login = response.auth[registry.host]
          assert.ok(login, JSON.stringify(Object.keys(response.auth)))
          // the kubelet sends it with the PullImage (username and password, no server address)
          await assert.rejects(criPull(paths.containerdSocket, image('kubelet-pulled'), { ...login, password: `${login.password}x` }), /401|unauthorized|authoriz/i)
          assert.match(await criPull(paths.containerdSocket, image('kubelet-pulled'), login), /^sha256:/)
          assert.ok((await images()).includes(image('kubelet-pulled')))
        })

      it("the action's preload pulls it through the CRI, with no token on any command line", async () => {
        await daemon.stop()
        await rm(join(root, 'var'), { recursive: true, force: true })
        const plan = planFor(true, { 'preload-images': image('preloaded') })
        const shown = plan.steps.find((s) => s.id === 'images.preload')!.ops.flatMap((o) => (o.kind === 'task' ? o.shows : []))
        const pull = shown.find((l) => l.includes(image('preloaded')))!
        assert.match(pull, /crictl --runtime-endpoint unix:\/\/\S+ --image-endpoint unix:\/\/\S+ pull /)
        assert.ok(!pull.includes(TOKEN))
        // every command the run builds, as exec.ts logs it
        const logged: string[] = []
        const logRun = createRun({ sudo: false, debug: (l) => logged.push(l) })
        const host = createHost({ run: logRun, services: bedServices({ containerd: daemon }), ledger: new Ledger(), ...paths, scratch: dir })
        for (const id of ['runtime.configure'] as StepId[]) await execute([{ ...plan.steps.find((s) => s.id === id)!, needs: [] }], { host, learned: plan.learned })
        await waitForContainerd({ run, ctr, address: paths.containerdSocket, deadline: Date.now() + 20_000, logs: () => daemon.logs(30) })
        plan.learned.kubeadmImages = []
        const saved = process.env.PATH
        process.env.PATH = `${join(ctr, '..')}:${saved}`
        try {
          await execute([{ ...plan.steps.find((s) => s.id === 'images.preload')!, needs: [] }], { host, learned: plan.learned })
        } finally {
          process.env.PATH = saved
        }
        assert.equal(plan.learned.imageCounts?.pulled, 1)
        assert.ok((await images()).includes(image('preloaded')))
        assert.ok(logged.some((l) => /crictl .*pull .*private\/preloaded:1/.test(l)), logged.join('\n'))
        // 2.x: the login on crictl's standard input, into its CRICTL_AUTH; config.toml holds none
        if (major === 2) {
          assert.ok(logged.some((l) => /^exec: sh -c .*CRICTL_AUTH.*\/crictl --runtime-endpoint .* pull \S+\/private\/preloaded:1$/.test(l)), logged.join('\n'))
          assert.ok(!(await readFile(paths.containerdConfig, 'utf8')).includes(TOKEN))
        }
        for (const l of logged) {
          assert.ok(!l.includes(TOKEN) && !l.includes(Buffer.from(`${USER}:${TOKEN}`).toString('base64')), `a command line holds the token: ${l}`)
        }
      })
    })
  }

  describe('Docker', () => {
    let docker: Daemon
    let d: string
    let env: NodeJS.ProcessEnv
    let home: string
    const ledger = new Ledger()
    const original = `{"auths":{"other.example":{"auth":"b3RoZXI6b25l"}},"detachKeys":"ctrl-e,e"}\n`

    before(async () => {
      d = join(dir, 'docker')
      home = join(d, 'home')
      await mkdir(join(home, '.docker'), { recursive: true })
      await writeFile(join(d, 'daemon.json'), JSON.stringify({ 'storage-driver': 'vfs' }))
      env = { ...process.env, DOCKER_HOST: `unix://${join(d, 'docker.sock')}` }
      docker = new Daemon(
        'dockerd',
        () => [BINS.dockerd, '--config-file', join(d, 'daemon.json'), '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', `unix://${join(d, 'docker.sock')}`, '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
        join(d, 'dockerd.log')
      )
      docker.start()
      await waitFor('dockerd', async () => (await exec('docker', ['info', '--format', '{{.ServerVersion}}'], { env })).stdout.trim() !== '')
    })
    after(() => docker?.stop())

    const pull = (configDir: string, ref: string) => exec('docker', ['--config', configDir, 'pull', ref], { env })

    it('refuses the pull without credentials', async () => {
      await assert.rejects(pull(join(home, '.docker'), image('docker-pulled')), /no basic auth credentials|unauthorized|authentication required/i)
    })

    it("pulls with the config.json the action writes for the runner user, the user's own keys kept, 0600", async () => {
      const cfgPath = join(home, '.docker', 'config.json')
      await writeFile(cfgPath, original, { mode: 0o644 })
      const facts: HostFacts = { ...hostedRunner, privilege: 'root', docker: true, user: { name: 'runner', uid: 1001, gid: 1002, home } }
      const paths = pathsUnder(join(d, 'host'))
      const plan = buildPlan({ config: config(inputs(true)), facts, version: VERSION, paths })
      const s = plan.steps.find((x) => x.id === 'runtime.docker-credentials')
      assert.ok(s, 'a host with Docker gets the step')
      const host = createHost({ run, services: bedServices({}), ledger, ...paths, scratch: dir })
      await execute([{ ...s, needs: [] }], { host, learned: plan.learned })
      const st = await stat(cfgPath)
      assert.equal(st.mode & 0o777, 0o600)
      assert.deepEqual([st.uid, st.gid], [1001, 1002], "the runner user's file")
      const doc = JSON.parse(await readFile(cfgPath, 'utf8'))
      assert.equal(doc.detachKeys, 'ctrl-e,e')
      assert.equal(doc.auths['other.example'].auth, 'b3RoZXI6b25l')
      assert.equal(Buffer.from(doc.auths[registry.host].auth, 'base64').toString(), `${USER}:${TOKEN}`)
      await pull(join(home, '.docker'), image('docker-pulled'))
      const { stdout } = await exec('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'], { env })
      assert.ok(stdout.includes(image('docker-pulled')), stdout)
    })

    it("cleanup puts the user's own config.json back, byte for byte", async () => {
      const units = {}
      const report = await undoChanges(ledger.changes, { run: withBedSystemctl(run, units), services: bedServices(units), ...pathsUnder(join(d, 'host')) })
      assert.deepEqual(report.failed, [])
      assert.equal(await readFile(join(home, '.docker', 'config.json'), 'utf8'), original)
    })
  })
})
