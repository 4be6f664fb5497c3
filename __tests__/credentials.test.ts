// registry-credentials: the input's form and errors, where each credential goes (containerd's
// CRI auth by host, Docker's auths, the preload's route), and that the secret never reaches
// a plan, a plan tree, a summary or a log line other than the runner's mask command.
import type { Learned } from '../src/engine/learned.js'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { after, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { parse as parseToml } from 'smol-toml'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { CREDENTIALS_FORM, InputError, parseInputs, type Config } from '../src/inputs/parse.js'
import { Secret } from '../src/config/secret.js'
import { renderPlan } from '../src/engine/describe.js'
import { actionMain } from '../src/entry/action.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { credentialHost, mergeDockerConfig } from '../src/images/credentials.js'
import type { Op } from '../src/engine/step.js'
import type { HostFacts } from '../src/host/probe.js'
import { pullCredential, usesCredentials } from '../src/images/credentials.js'
import { credentialProviderFiles } from '../src/runtimes/containerd/credentials.js'
import { CREDENTIAL_PROVIDER_NAME, renderCredentialProviderConfig, renderCredentialProviderResponse, renderCredentialProviderScript } from '../src/render/credential-provider.js'
import { buildPlan } from '../src/phases/index.js'
import { renderContainerdConfig } from '../src/runtimes/containerd/config.js'
import { config, hostedRunner } from './helpers/facts.js'
import { layRunner } from './helpers/host-tree.js'
import { inputEnv, sandbox, type Sandbox } from './helpers/runner.js'

const TOKEN = 'dckr_pat_s3cr:et=with=equals'
const BASIC = Buffer.from(`octocat:${TOKEN}`).toString('base64')

const parseWith = (inputs: Record<string, string>, secret?: (s: string) => void): Config => parseInputs((n) => inputs[n] ?? '', { secret })
const problemsOf = (value: string, secret?: (s: string) => void): string[] => {
  try {
    parseWith({ 'registry-credentials': value }, secret)
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`)
    return err.problems
  }
  assert.fail('expected the input to be refused')
}

describe('registry-credentials: the input', () => {
  it('is empty by default', () => {
    assert.deepEqual(parseWith({}).registryCredentials, [])
  })

  it("splits at the first '=' and the first ':' after it, so a token keeps its ':' and '='", () => {
    const [c, d] = parseWith({ 'registry-credentials': `# Docker Hub, for the rate limit\nIndex.Docker.io=octocat:${TOKEN}\n\n  registry.example.com:5000 = ci : a==b  ` }).registryCredentials
    assert.equal(c.registry, 'docker.io', 'Docker Hub by any of its names, lowercase')
    assert.equal(c.username, 'octocat')
    assert.equal(c.password.reveal(), TOKEN)
    assert.equal(c.basic.reveal(), BASIC)
    assert.equal(d.registry, 'registry.example.com:5000')
    assert.equal(d.username, 'ci')
    assert.equal(d.password.reveal(), 'a==b')
  })

  it('hands every token and its base64 USERNAME:TOKEN to the mask before anything is checked, even on a bad line', () => {
    const masked: string[] = []
    const problems = problemsOf(`docker.io=octocat:${TOKEN}\nhttps://ghcr.io=bot:ghp_other`, (s) => masked.push(s))
    assert.ok(masked.includes(TOKEN) && masked.includes(BASIC), 'the good line')
    assert.ok(masked.includes('ghp_other'), 'and the bad one')
    assert.equal(problems.length, 1)
    // masked first: also when another input is what stops the run
    const early: string[] = []
    assert.throws(() => parseWith({ 'registry-credentials': `docker.io=octocat:${TOKEN}`, 'pod-network-cidr': 'nope' }, (s) => early.push(s)), InputError)
    assert.ok(early.includes(TOKEN))
  })

  it('names the input, the line and the accepted form, and never repeats the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['docker.io octocat', /line 1 is not valid: it has no '='/],
      [`docker.io octocat:${TOKEN}`, /line 1 is not valid: REGISTRY is not a host\[:port\]/],
      [`https://ghcr.io=bot:${TOKEN}`, /line 1 is not valid: REGISTRY is a URL; write its host\[:port\] only/],
      [`ghcr.io/org=bot:${TOKEN}`, /line 1 is not valid: REGISTRY is not a host\[:port\]/],
      [`ghcr.io=${TOKEN.replace(/:/g, '')}`, /line 1 \(registry ghcr\.io\) is not valid: it has no ':' between USERNAME and TOKEN/],
      [`ghcr.io=:${TOKEN}`, /line 1 \(registry ghcr\.io\) is not valid: USERNAME is empty/],
      ['ghcr.io=bot:', /line 1 \(registry ghcr\.io\) is not valid: TOKEN is empty/],
      [`ghcr.io=bot:${TOKEN} trailing`, /line 1 \(registry ghcr\.io\) is not valid: USERNAME or TOKEN holds a space/],
      [`docker.io=a:${TOKEN}\n# note\nregistry-1.docker.io=b:${TOKEN}`, /line 3 \(registry docker\.io\) is not valid: line 1 already names docker\.io/]
    ]
    for (const [value, why] of cases) {
      const [problem, ...more] = problemsOf(value)
      assert.deepEqual(more, [], value)
      assert.match(problem, /^Input 'registry-credentials' /, value)
      assert.match(problem, why, value)
      assert.ok(problem.includes(`accepted: ${CREDENTIALS_FORM}.`), problem)
      assert.ok(!problem.includes(TOKEN) && !problem.includes(TOKEN.replace(/:/g, '')), `the token is repeated: ${problem}`)
    }
  })

  it('reports every bad line at once', () => {
    assert.equal(problemsOf('a.example\nb.example=x\nc.example=x:y').length, 2)
  })

  it('keeps the token out of anything that prints or serializes the config', () => {
    const c = parseWith({ 'registry-credentials': `docker.io=octocat:${TOKEN}` })
    for (const text of [JSON.stringify(c), inspect(c, { depth: 10 }), String(c.registryCredentials[0].password), `${c.registryCredentials[0].basic}`]) {
      assert.ok(!text.includes(TOKEN) && !text.includes(BASIC), text)
    }
    assert.equal(new Secret('x', '<p>').toJSON(), '<p>')
  })
})

describe('registry-credentials: where they go', () => {
  const creds = (value: string): Config => config({ 'registry-credentials': value, 'registry-mirrors': 'docker.io=https://mirror.gcr.io\nquay.io=https://quay-mirror.example' })
  // containerd 1.x: the CRI's registry.configs; the hosted runner's 2.2.1: the kubelet's credential provider
  const containerd1: HostFacts = { ...hostedRunner, containerd: { version: '1.7.28', major: 1 } }
  const planOn = (c: Config, facts: HostFacts = hostedRunner, version = 'v1.34.2') => buildPlan({ config: c, facts, version, paths: HOST_PATHS })
  const writes = (c: Config, facts: HostFacts = hostedRunner) => planOn(c, facts).steps.flatMap((s) => s.ops).filter((o) => o.kind === 'write')
  const provider = credentialProviderFiles(HOST_PATHS)

  it("go to containerd 1.x's CRI auth, keyed by the host containerd contacts (Docker Hub's is registry-1.docker.io); containerd 2.x's config holds none", () => {
    const auths = [{ host: credentialHost('docker.io'), username: 'octocat', password: new Secret(TOKEN, '<token>') }]
    const v2 = parseToml(renderContainerdConfig({ major: 1, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: '/etc/containerd/certs.d', auths, reveal: true })) as any
    assert.equal(v2.plugins['io.containerd.grpc.v1.cri'].registry.config_path, '/etc/containerd/certs.d', 'next to the hosts directory')
    assert.deepEqual({ ...v2.plugins['io.containerd.grpc.v1.cri'].registry.configs['registry-1.docker.io'].auth }, { username: 'octocat', password: TOKEN })
    const shown = renderContainerdConfig({ major: 1, sandboxImage: 'p', certsDir: '/c', auths })
    assert.ok(!shown.includes(TOKEN) && shown.includes('<token>'), 'the plan shows a placeholder')
    // registry.configs "will be removed in containerd v2.4" (containerd pkg/deprecation)
    const v3 = parseToml(renderContainerdConfig({ major: 2, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: '/etc/containerd/certs.d', auths, reveal: true })) as any
    assert.deepEqual({ ...v3.plugins['io.containerd.cri.v1.images'].registry }, { config_path: '/etc/containerd/certs.d' })
    assert.ok(!renderContainerdConfig({ major: 1, sandboxImage: 'p', certsDir: '/c' }).includes('configs'), 'and nothing without credentials')
  })

  it("make containerd 1.x's config.toml root-only, and only when it holds credentials; 2.x's stays plain", () => {
    const toml = (c: Config, facts: HostFacts) => writes(c, facts).find((o) => o.kind === 'write' && o.path === HOST_PATHS.containerdConfig)
    const w = toml(creds(`docker.io=octocat:${TOKEN}`), containerd1)
    const one = { ...seeded(), containerdMajor: 1 }
    assert.ok(w?.kind === 'write' && w.mode === 0o600 && w.reveal)
    assert.ok(w.reveal(one).includes(TOKEN))
    assert.ok(!w.render(one).includes(TOKEN))
    for (const [c, facts] of [[config(), containerd1], [creds(`docker.io=octocat:${TOKEN}`), hostedRunner]] as const) {
      const plain = toml(c, facts)
      assert.ok(plain?.kind === 'write' && plain.mode === undefined && plain.reveal === undefined)
      assert.ok(!plain.render({ ...seeded(), containerdMajor: facts.containerd!.major }).includes('configs'))
    }
  })

  it('give containerd 2.x a kubelet credential provider: the response root-only, the script and its config free of secrets', () => {
    const all = writes(creds(`docker.io=octocat:${TOKEN}\nregistry.example.com:5000=ci:x`))
    const at = (path: string) => all.find((o) => o.kind === 'write' && o.path === path) as Extract<Op, { kind: 'write' }>
    const response = at(provider.response)
    assert.equal(response.mode, 0o600)
    assert.ok(!response.render(seeded()).includes(TOKEN) && response.render(seeded()).includes('<registry-credentials: token for docker.io>'))
    assert.deepEqual(JSON.parse(response.reveal!(seeded())).auth, { 'docker.io': { username: 'octocat', password: TOKEN }, 'registry.example.com:5000': { username: 'ci', password: 'x' } })
    const script = at(provider.executable)
    assert.equal(script.mode, 0o755)
    assert.equal(script.reveal, undefined)
    assert.ok(script.render(seeded()).includes(provider.response) && !script.render(seeded()).includes(TOKEN))
    const cfg = parseYaml(at(provider.config).render(seeded()))
    assert.deepEqual(cfg.providers[0].matchImages, ['docker.io', 'registry.example.com:5000'])
    assert.equal(at(provider.config).reveal, undefined)
    // none of it on containerd 1.x, nor without credentials
    for (const [c, facts] of [[creds(`docker.io=octocat:${TOKEN}`), containerd1], [config(), hostedRunner]] as const) {
      assert.ok(!writes(c, facts).some((o) => o.kind === 'write' && o.path.startsWith(join(HOST_PATHS.stateDir, 'credential-provider'))))
    }
  })

  it('pass the kubelet the provider flags through kubeadm, as a v1beta4 list or a v1beta3 map, kept beside kubeadm-config\'s own', () => {
    const kubeadmDoc = (c: Config, facts: HostFacts = hostedRunner, version = 'v1.34.2') => {
      const plan = planOn(c, facts, version)
      const w = plan.steps.flatMap((s) => s.ops).find((o) => o.kind === 'write' && o.path.endsWith('kubeadm.yaml')) as Extract<Op, { kind: 'write' }>
      // the API the plan predicts for the version (the run asks kubeadm)
      return parseAllDocuments(w.render({ ...seeded(), kubeadmApi: plan.learned.kubeadmApi })).map((d) => d.toJS())[0].nodeRegistration
    }
    const flags = [
      { name: 'image-credential-provider-config', value: provider.config },
      { name: 'image-credential-provider-bin-dir', value: provider.binDir }
    ]
    const own = `kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    - {name: v, value: "4"}\n`
    assert.deepEqual(kubeadmDoc(creds(`docker.io=octocat:${TOKEN}`)).kubeletExtraArgs, flags)
    assert.deepEqual(kubeadmDoc(config({ 'registry-credentials': `docker.io=octocat:${TOKEN}`, 'kubeadm-config': own })).kubeletExtraArgs, [{ name: 'v', value: '4' }, ...flags])
    assert.deepEqual(kubeadmDoc(creds(`docker.io=octocat:${TOKEN}`), hostedRunner, 'v1.30.14').kubeletExtraArgs, Object.fromEntries(flags.map((f) => [f.name, f.value])))
    assert.equal(kubeadmDoc(creds(`docker.io=octocat:${TOKEN}`), containerd1).kubeletExtraArgs, undefined)
    assert.equal(kubeadmDoc(config()).kubeletExtraArgs, undefined)
  })

  it("on containerd 1.x are sent only to the host a line names: a registry's token never to its mirror, a mirror's line to the mirror", () => {
    const hub = creds(`docker.io=octocat:${TOKEN}`)
    assert.equal(usesCredentials(hub, 'docker.io/library/nginx:stable-alpine'), true, 'registry-1.docker.io, after the mirror')
    assert.equal(usesCredentials(hub, 'quay.io/org/app:1'), false)
    const mirror = creds(`quay-mirror.example=bot:${TOKEN}`)
    assert.equal(usesCredentials(mirror, 'quay.io/org/app:1'), true, 'the mirror has its own line')
    assert.equal(pullCredential(mirror, 'quay.io/org/app:1', false)?.registry, 'quay-mirror.example')
    assert.equal(usesCredentials(mirror, 'docker.io/library/nginx:stable-alpine'), false)
    // and containerd's auth is keyed by that host only
    const text = renderContainerdConfig({ major: 1, sandboxImage: 'p', certsDir: '/c', auths: [{ host: 'quay-mirror.example', username: 'bot', password: new Secret(TOKEN, '<t>') }] })
    assert.deepEqual(Object.keys((parseToml(text) as any).plugins['io.containerd.grpc.v1.cri'].registry.configs), ['quay-mirror.example'])
  })

  it("on containerd 2.x go by the image's registry, and the plan says where that differs from a login per host", () => {
    const both = creds(`docker.io=octocat:${TOKEN}\nquay-mirror.example=bot:${TOKEN}`)
    assert.equal(pullCredential(both, 'docker.io/library/nginx:stable-alpine', true)?.registry, 'docker.io')
    assert.equal(pullCredential(both, 'quay.io/org/app:1', true), undefined, "a mirror's line is not quay.io's")
    const notes = planOn(both).notes.filter((n) => n.startsWith('registry-credentials'))
    assert.equal(notes.length, 2, notes.join('\n'))
    assert.match(notes[0], /line for quay-mirror\.example: .*not to quay-mirror\.example as a mirror of quay\.io.*carry no login/)
    assert.match(notes[1], /for docker\.io: .*offers them to any host of that pull that asks for a login, its registry-mirrors mirror\.gcr\.io included/)
    assert.deepEqual(planOn(both, containerd1).notes.filter((n) => n.startsWith('registry-credentials')), [])
    assert.deepEqual(planOn(config({ 'registry-credentials': `ghcr.io=bot:${TOKEN}`, 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })).notes.filter((n) => n.startsWith('registry-credentials')), [])
  })

  it('preloads such images through the CRI and the rest with ctr, the token never on a command line, as the plan shows', () => {
    const shown = (facts: HostFacts) => {
      const plan = planOn(creds(`docker.io=octocat:${TOKEN}`), facts)
      return plan.steps.find((s) => s.id === 'images.preload')!.ops.flatMap((o) => (o.kind === 'task' ? o.shows : []))
    }
    const crictl = '/usr/local/bin/crictl --runtime-endpoint unix:///var/run/containerd/containerd.sock --image-endpoint unix:///var/run/containerd/containerd.sock pull docker.io/library/nginx:stable-alpine'
    // 1.x: containerd takes them from its config
    const one = shown(containerd1)
    assert.ok(one.find((l) => l.includes('nginx'))!.startsWith(`$ sudo ${crictl}   (registry-credentials`))
    // 2.x: on crictl's standard input, by a fixed script, into its CRICTL_AUTH
    const two = shown(hostedRunner)
    const nginx = two.find((l) => l.includes('nginx'))!
    assert.ok(nginx.startsWith(`$ sudo sh -c 'IFS= read -r CRICTL_AUTH && export CRICTL_AUTH && exec "$@"' sh ${crictl}   (registry-credentials for docker.io`), nginx)
    for (const l of [...one, ...two]) assert.ok(!l.includes(TOKEN) && !l.includes(BASIC))
    assert.match(two.find((l) => l.includes('registry.k8s.io/pause'))!, /ctr .* images pull --local --hosts-dir/)
  })

  it("merge into Docker's config.json as docker login would, keeping the user's own keys, and say when a helper shadows them", () => {
    const [hub, own] = config({ 'registry-credentials': `docker.io=octocat:${TOKEN}\nregistry.example.com:5000=ci:x` }).registryCredentials
    const { text, shadowed } = mergeDockerConfig({ auths: { 'other.example': { auth: 'b3RoZXI6b25l' } }, detachKeys: 'ctrl-e,e' }, [hub, own], true)
    const doc = JSON.parse(text)
    assert.deepEqual(doc.auths['https://index.docker.io/v1/'], { auth: BASIC })
    assert.deepEqual(doc.auths['registry.example.com:5000'], { auth: Buffer.from('ci:x').toString('base64') })
    assert.deepEqual(doc.auths['other.example'], { auth: 'b3RoZXI6b25l' })
    assert.equal(doc.detachKeys, 'ctrl-e,e')
    assert.deepEqual(shadowed, [])
    assert.ok(!mergeDockerConfig(undefined, [hub], false).text.includes(BASIC), 'a placeholder for the plan')
    assert.deepEqual(mergeDockerConfig({ credsStore: 'desktop' }, [hub], true).shadowed, ['docker.io (credsStore desktop)'])
    assert.deepEqual(mergeDockerConfig({ credHelpers: { 'registry.example.com:5000': 'ecr-login' } }, [own], true).shadowed, ['registry.example.com:5000 (credHelpers)'])
  })

  it("write Docker's config.json only where Docker is, for the runner user, 0700 directory and 0600 file", () => {
    const c = creds(`docker.io=octocat:${TOKEN}`)
    const with_ = buildPlan({ config: c, facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const s = with_.steps.find((x) => x.id === 'runtime.docker-credentials')!
    const text = renderPlan([s], with_.learned)
    assert.match(text, /install -D -m 0600 -o 1001 -g 118 '<merged>' \/home\/runner\/\.docker\/config\.json/)
    assert.ok(!text.includes(BASIC) && !text.includes(TOKEN))
    assert.equal(buildPlan({ config: c, facts: { ...hostedRunner, docker: false }, version: 'v1.34.2', paths: HOST_PATHS }).steps.some((x) => x.id === 'runtime.docker-credentials'), false)
    const dockerConfig = buildPlan({ config: c, facts: { ...hostedRunner, dockerConfigDir: '/srv/docker-cfg' }, version: 'v1.34.2', paths: HOST_PATHS })
    assert.match(renderPlan(dockerConfig.steps.filter((x) => x.id === 'runtime.docker-credentials'), dockerConfig.learned), /\/srv\/docker-cfg\/config\.json/)
  })
})

describe("registry-credentials: the kubelet's credential provider (containerd 2.x)", () => {
  const [hub, own] = config({ 'registry-credentials': `docker.io=octocat:${TOKEN}\nregistry.example.com:5000=ci:x` }).registryCredentials

  it('renders a CredentialProviderConfig the kubelet validates: name, apiVersion, matchImages per registry, defaultCacheDuration', () => {
    const doc = parseYaml(renderCredentialProviderConfig(['docker.io', 'registry.example.com:5000', 'docker.io']))
    assert.deepEqual(doc, {
      apiVersion: 'kubelet.config.k8s.io/v1',
      kind: 'CredentialProviderConfig',
      providers: [
        { name: CREDENTIAL_PROVIDER_NAME, apiVersion: 'credentialprovider.kubelet.k8s.io/v1', matchImages: ['docker.io', 'registry.example.com:5000'], defaultCacheDuration: '1h' }
      ]
    })
    // the kubelet finds the provider by this name in its bin directory: no '/' nor space (plugin/config.go)
    assert.match(CREDENTIAL_PROVIDER_NAME, /^[a-z0-9-]+$/)
  })

  it('answers a CredentialProviderResponse with one auth entry per registry, placeholders unless revealed', () => {
    const real = JSON.parse(renderCredentialProviderResponse([hub, own], true))
    assert.deepEqual(real, {
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Global',
      auth: { 'docker.io': { username: 'octocat', password: TOKEN }, 'registry.example.com:5000': { username: 'ci', password: 'x' } }
    })
    const shown = renderCredentialProviderResponse([hub, own], false)
    assert.ok(!shown.includes(TOKEN) && shown.includes('<registry-credentials: token for docker.io>'))
  })

  it('is a sh script that prints the response file, whatever it is given on its arguments and standard input', async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksn-provider-it's-"))
    try {
      const response = join(dir, 'response.json')
      await writeFile(response, renderCredentialProviderResponse([hub], true), { mode: 0o600 })
      const script = join(dir, CREDENTIAL_PROVIDER_NAME)
      await writeFile(script, renderCredentialProviderScript(response), { mode: 0o755 })
      const request = JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'docker.io/library/nginx' })
      const out = await new Promise<string>((resolve, reject) => {
        const child = execFile(script, ['--ignored', '$(id)'], (err, stdout) => (err ? reject(err) : resolve(stdout)))
        child.stdin!.end(request)
      })
      assert.equal(out, await readFile(response, 'utf8'))
      assert.ok(!(await readFile(script, 'utf8')).includes(TOKEN), 'the script holds no secret')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/** What config.images learns, as the dry run seeds it. */
function seeded(): Learned {
  return { kubeadmImages: ['registry.k8s.io/pause:3.10.1'], kubeadmApi: 'kubeadm.k8s.io/v1beta4', cniImages: [] }
}

describe('registry-credentials: the dry run', () => {
  let sb: Sandbox
  const savedEnv = { ...process.env }
  before(async () => {
    sb = await sandbox()
    await layRunner(sb.root)
  })
  after(() => {
    process.env = savedEnv
    process.exitCode = undefined
  })

  it('masks the token before anything is logged, and keeps it and its base64 out of the plan, the plan tree and the summary', async () => {
    const planDir = join(sb.dir, 'plan')
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k]
    Object.assign(
      process.env,
      sb.env,
      { HOME: join(sb.root, 'home/runner') },
      inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'plan-dir': planDir, 'registry-credentials': `docker.io=octocat:${TOKEN}`, 'preload-images': 'docker.io/library/busybox:1' })
    )
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
    const out: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
    try {
      await actionMain(HOST_PATHS)
    } finally {
      process.stdout.write = write
    }
    const log = out.join('')
    assert.equal(process.exitCode, undefined, log)
    const lines = log.split('\n')
    // the runner hides a value once it has seen ::add-mask:: for it: first of all
    const masks = lines.filter((l) => l.startsWith('::add-mask::'))
    assert.ok(masks.includes(`::add-mask::${TOKEN}`) && masks.includes(`::add-mask::${BASIC}`), log)
    assert.ok(lines.slice(0, masks.length).every((l) => l.startsWith('::add-mask::')), 'the masks come before any other line')
    for (const l of lines.filter((x) => !x.startsWith('::add-mask::'))) assert.ok(!l.includes(TOKEN) && !l.includes(BASIC), `logged: ${l}`)
    // the plan shows where they go, with placeholders
    assert.match(log, /<registry-credentials: token for docker\.io>/)
    assert.match(log, /credential-provider\/response\.json/)
    assert.match(log, /CRICTL_AUTH .*crictl .* pull docker\.io\/library\/busybox:1/)
    // every file the plan writes, plan.txt and plan.json included, and the summary
    const files = await filesUnder(planDir)
    assert.ok(files.some((f) => f.endsWith('etc/containerd/config.toml')) && files.some((f) => f.endsWith('plan.txt')) && files.some((f) => f.endsWith('plan.json')))
    for (const f of [...files, sb.files.summary]) {
      const text = await readFile(f, 'utf8')
      assert.ok(!text.includes(TOKEN) && !text.includes(BASIC), `${f} holds the secret`)
    }
    // the hosted runner's containerd 2.x: the login is in the provider's response, root's alone
    const toml = parseToml(await readFile(join(planDir, 'etc/containerd/config.toml'), 'utf8')) as any
    assert.equal(toml.plugins['io.containerd.cri.v1.images'].registry.configs, undefined)
    const response = join(planDir, 'etc/kubeadm-single-node/credential-provider/response.json')
    assert.equal(JSON.parse(await readFile(response, 'utf8')).auth['docker.io'].password, '<registry-credentials: token for docker.io>')
    assert.equal((await stat(response)).mode & 0o777, 0o600)
  })
})

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(p)))
    else out.push(p)
  }
  return out
}
