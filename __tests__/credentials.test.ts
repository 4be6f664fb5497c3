// registry-credentials: the input's form and errors, where each credential goes (containerd's
// CRI auth by host, Docker's auths, the preload's route), and that the secret never reaches
// a plan, a plan tree, a summary or a log line other than the runner's mask command.
import type { Learned } from '../src/engine/learned.js'
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { after, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { parse as parseToml } from 'smol-toml'
import { CREDENTIALS_FORM, InputError, parseInputs, type Config } from '../src/config/inputs.js'
import { Secret } from '../src/config/secret.js'
import { renderPlan } from '../src/engine/describe.js'
import { actionMain } from '../src/entry/action.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { credentialHost, mergeDockerConfig } from '../src/images/credentials.js'
import { usesCredentials } from '../src/phases/images.js'
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

  it("go to containerd's CRI auth, keyed by the host containerd contacts (Docker Hub's is registry-1.docker.io), in each major's layout", () => {
    const auths = [{ host: credentialHost('docker.io'), username: 'octocat', password: new Secret(TOKEN, '<token>') }]
    const v3 = parseToml(renderContainerdConfig({ major: 2, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: '/etc/containerd/certs.d', auths, reveal: true })) as any
    const images = v3.plugins['io.containerd.cri.v1.images']
    assert.equal(images.registry.config_path, '/etc/containerd/certs.d', 'next to the hosts directory')
    assert.deepEqual({ ...images.registry.configs['registry-1.docker.io'].auth }, { username: 'octocat', password: TOKEN })
    const v2 = parseToml(renderContainerdConfig({ major: 1, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: '/etc/containerd/certs.d', auths, reveal: true })) as any
    assert.deepEqual({ ...v2.plugins['io.containerd.grpc.v1.cri'].registry.configs['registry-1.docker.io'].auth }, { username: 'octocat', password: TOKEN })
    const shown = renderContainerdConfig({ major: 2, sandboxImage: 'p', certsDir: '/c', auths })
    assert.ok(!shown.includes(TOKEN) && shown.includes('<token>'), 'the plan shows a placeholder')
    assert.ok(!renderContainerdConfig({ major: 2, sandboxImage: 'p', certsDir: '/c' }).includes('configs'), 'and nothing without credentials')
  })

  it('make the config.toml root-only, and only when it holds credentials', () => {
    const write = (c: Config) => buildPlan({ config: c, facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS }).steps.flatMap((s) => s.ops).find((o) => o.kind === 'write' && o.path === HOST_PATHS.containerdConfig)
    const w = write(creds(`docker.io=octocat:${TOKEN}`))
    assert.ok(w?.kind === 'write' && w.mode === 0o600 && w.reveal)
    assert.ok(w.reveal(seeded()).includes(TOKEN))
    assert.ok(!w.render(seeded()).includes(TOKEN))
    const plain = write(config())
    assert.ok(plain?.kind === 'write' && plain.mode === undefined && plain.reveal === undefined)
  })

  it("are sent only to the host a line names: a registry's token never to its mirror, a mirror's line to the mirror", () => {
    const hub = creds(`docker.io=octocat:${TOKEN}`)
    assert.equal(usesCredentials(hub, 'docker.io/library/nginx:stable-alpine'), true, 'registry-1.docker.io, after the mirror')
    assert.equal(usesCredentials(hub, 'quay.io/org/app:1'), false)
    const mirror = creds(`quay-mirror.example=bot:${TOKEN}`)
    assert.equal(usesCredentials(mirror, 'quay.io/org/app:1'), true, 'the mirror has its own line')
    assert.equal(usesCredentials(mirror, 'docker.io/library/nginx:stable-alpine'), false)
    // and containerd's auth is keyed by that host only
    const text = renderContainerdConfig({ major: 2, sandboxImage: 'p', certsDir: '/c', auths: [{ host: 'quay-mirror.example', username: 'bot', password: new Secret(TOKEN, '<t>') }] })
    assert.deepEqual(Object.keys((parseToml(text) as any).plugins['io.containerd.cri.v1.images'].registry.configs), ['quay-mirror.example'])
  })

  it("preloads such images through the CRI (crictl pull, no credentials on it) and the rest with ctr, as the plan shows", () => {
    const plan = buildPlan({ config: creds(`docker.io=octocat:${TOKEN}`), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const shows = plan.steps.find((s) => s.id === 'images.preload')!.ops.flatMap((o) => (o.kind === 'task' ? o.shows : []))
    const nginx = shows.find((l) => l.includes('docker.io/library/nginx:stable-alpine'))!
    assert.match(nginx, /^\$ sudo \/usr\/local\/bin\/crictl --runtime-endpoint unix:\/\/\/var\/run\/containerd\/containerd\.sock --image-endpoint unix:\/\/\/var\/run\/containerd\/containerd\.sock pull docker\.io\/library\/nginx:stable-alpine {3}\(registry-credentials/)
    assert.match(shows.find((l) => l.includes('registry.k8s.io/pause'))!, /ctr .* images pull --local --hosts-dir/)
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
    assert.match(log, /registry-1\.docker\.io/)
    assert.match(log, /crictl .* pull docker\.io\/library\/busybox:1/)
    // every file the plan writes, plan.txt and plan.json included, and the summary
    const files = await filesUnder(planDir)
    assert.ok(files.some((f) => f.endsWith('etc/containerd/config.toml')) && files.some((f) => f.endsWith('plan.txt')) && files.some((f) => f.endsWith('plan.json')))
    for (const f of [...files, sb.files.summary]) {
      const text = await readFile(f, 'utf8')
      assert.ok(!text.includes(TOKEN) && !text.includes(BASIC), `${f} holds the secret`)
    }
    const toml = parseToml(await readFile(join(planDir, 'etc/containerd/config.toml'), 'utf8')) as any
    assert.equal(toml.plugins['io.containerd.cri.v1.images'].registry.configs['registry-1.docker.io'].auth.password, '<registry-credentials: token for docker.io>')
    assert.equal((await stat(join(planDir, 'etc/containerd/config.toml'))).mode & 0o777, 0o600)
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
