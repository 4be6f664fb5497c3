// The e2e workflow (.github/workflows/e2e.yml) cannot run here: it needs GitHub's runners.
// These tests hold it to its rules (Docker Hub through mirror.gcr.io, pinned versions, the
// cache off where it is not tested, a row of figures after every build, the runner images),
// and run its shell snippets against what the bundled action really writes: the dry run's
// plan.json, the command line's output lines, and the figures script.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { parse } from 'yaml'
import { PHASES } from '../src/engine/step.js'
import { HAVE_NODE24, NODE24, inputEnv, runBundle, sandbox } from './helpers/runner.js'

interface Step {
  id?: string
  name?: string
  uses?: string
  run?: string
  if?: string
  with?: Record<string, string>
  env?: Record<string, string>
  'continue-on-error'?: boolean
}
interface Job {
  steps: Step[]
  needs?: string | string[]
  if?: string
  env?: Record<string, string>
  outputs?: Record<string, string>
  strategy?: { matrix: { os: string[]; include?: Array<Record<string, string>> } }
  'continue-on-error'?: string | boolean
}
interface ActionMeta {
  inputs: Record<string, { required?: boolean; default?: string }>
}

const workflow = parse(readFileSync('.github/workflows/e2e.yml', 'utf8')) as { jobs: Record<string, Job> }
const jobs = Object.entries(workflow.jobs)
const action = parse(readFileSync('action.yml', 'utf8')) as ActionMeta
const FIGURES = './.github/actions/e2e-figures'
const figuresAction = parse(readFileSync(`${FIGURES}/action.yml`, 'utf8')) as ActionMeta

// a step that builds a cluster: not a dry run, and not one meant to be refused (continue-on-error)
const isBuild = (s: Step): boolean => s.uses === './' && s.with?.['dry-run'] !== 'true' && s['continue-on-error'] !== true
const builds = (job: Job): Step[] => job.steps.filter(isBuild)
const CACHE_JOBS = ['cache-save', 'cache-restore']
const MIRROR = 'docker.io=https://mirror.gcr.io'
const step = (job: string, pick: (s: Step) => boolean): Step => {
  const s = workflow.jobs[job].steps.find(pick)
  assert.ok(s, `job ${job} has the step`)
  return s
}

/** every input action.yml declares, as a runner passes it: the step's value or the default */
function runnerInputs(given: Record<string, string>, temp: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, meta] of Object.entries(action.inputs)) out[name] = String(given[name] ?? meta.default ?? '').replace('${{ github.token }}', '')
  for (const [k, v] of Object.entries(out)) out[k] = v.replace('${{ runner.temp }}', temp)
  return inputEnv(out)
}

/** a step's script as bash runs it on a runner (bash -e -o pipefail), expressions given */
function runScript(script: string, env: Record<string, string>, exprs: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const text = script.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => exprs[e] ?? '')
  return new Promise((done) => {
    execFile('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', text], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })
    })
  })
}

describe('e2e workflow: its rules', () => {
  it('every Docker Hub image is pulled through mirror.gcr.io, by the action and by the steps around it', () => {
    for (const [name, job] of jobs) {
      for (const s of builds(job)) {
        const ok = s.with?.offline === 'true' || (s.with?.['registry-mirrors'] ?? '').split('\n').includes(MIRROR)
        assert.ok(ok, `${name}/${s.id}: registry-mirrors ${MIRROR} (or offline: true)`)
      }
      for (const s of job.steps.filter((x) => x.run)) {
        for (const m of s.run!.matchAll(/(?:docker pull|FROM) "?([^\s"\\]+)/g)) {
          const ref = m[1]
          assert.ok(/^(mirror\.gcr\.io\/|localhost:)/.test(ref) || ref.includes('$'), `${name}: ${m[0]} must pull through mirror.gcr.io`)
        }
      }
    }
    const up = step('command-line', (s) => s.id === 'up').run!
    assert.match(up, /dist\/cli\.js up .*--registry-mirrors docker\.io=https:\/\/mirror\.gcr\.io/)
  })

  it('versions are exact releases, except where version resolution is the test (the matrix)', () => {
    for (const [name, job] of jobs) {
      if (name === 'cluster') continue
      for (const s of job.steps.filter((x) => x.uses === './')) {
        const v = (s.with?.['kubernetes-version'] ?? '').replace(/^\$\{\{ env\.(\w+) \}\}$/, (_, k: string) => job.env?.[k] ?? '')
        assert.match(v, /^v\d+\.\d+\.\d+$/, `${name}/${s.id ?? s.uses}: kubernetes-version is '${s.with?.['kubernetes-version']}'`)
      }
    }
    assert.match(step('mirror-repository', isBuild).with!['kubernetes-version'], /^v1\.34\.\d+$/)
    const matrix = workflow.jobs.cluster.strategy!.matrix
    assert.ok(matrix.include?.some((r) => /^v\d+\.\d+\.\d+$/.test(r['kubernetes-version'])), 'the matrix keeps an exact-version row')
  })

  it('the cache is off in every job that does not test it; on in the two that do', () => {
    for (const [name, job] of jobs) {
      for (const s of builds(job)) {
        // the action's default ('', picked in code) is on, but for offline
        if (CACHE_JOBS.includes(name)) assert.ok(['true', ''].includes(s.with?.cache ?? action.inputs.cache.default ?? '') && s.with?.offline !== 'true', `${name}/${s.id}`)
        else assert.ok(s.with?.cache === 'false' || s.with?.offline === 'true', `${name}/${s.id}: cache: 'false' (offline turns it off too)`)
      }
    }
    assert.match(step('command-line', (s) => s.id === 'up').run!, /dist\/cli\.js up .*--cache false/)
  })

  it('the runner images: ubuntu-26.04 is in the matrix, ubuntu-22.04 may fail without failing the workflow', () => {
    const cluster = workflow.jobs.cluster
    for (const os of ['ubuntu-22.04', 'ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-26.04']) assert.ok(cluster.strategy!.matrix.os.includes(os), os)
    assert.equal(cluster['continue-on-error'], "${{ matrix.os == 'ubuntu-22.04' }}")
  })

  it('a row of figures follows every build, even a failed one, with the inputs the composite declares', () => {
    const declared = Object.keys(figuresAction.inputs)
    const required = declared.filter((k) => figuresAction.inputs[k].required)
    let rows = 0
    for (const [name, job] of jobs) {
      const sources = job.steps.filter((s) => isBuild(s) || (name === 'command-line' && s.id === 'up'))
      for (const src of sources) {
        assert.ok(src.id, `${name}: a build has an id for its figures`)
        const i = job.steps.indexOf(src)
        const fig = job.steps.slice(i + 1).find((s) => s.uses === FIGURES && s.with?.timings === `\${{ steps.${src.id}.outputs.timings }}`)
        assert.ok(fig, `${name}/${src.id}: a figures step reads its timings`)
        assert.equal(fig.if, '${{ !cancelled() }}', `${name}/${src.id}: figures also after a failure`)
        for (const k of Object.keys(fig.with!)) assert.ok(declared.includes(k), `${name}: figures input ${k} is declared`)
        for (const k of required) assert.ok(fig.with![k], `${name}: figures input ${k} is given`)
        for (const [k, out] of [['nginx-url', 'nginx-url'], ['kubernetes-version', 'kubernetes-version'], ['cache-hit', 'cache-hit']]) {
          assert.equal(fig.with![k], `\${{ steps.${src.id}.outputs.${out} }}`, `${name}/${src.id}: ${k}`)
        }
        rows++
      }
    }
    assert.ok(rows >= 17, `${rows} builds report figures`)
  })
})

describe('e2e workflow: its scripts, run on what the action writes', { skip: HAVE_NODE24 ? false : `Node 24 is missing at ${NODE24}` }, () => {
  it('the dry-run job accepts the host containerd config or the action own one, whichever the plan names, and nothing else', async () => {
    const dry = step('dry-run', (s) => s.uses === './')
    const check = step('dry-run', (s) => s.run?.includes('plan.json') === true).run!
    for (const [version, path] of [
      ['2.2.1', '/etc/containerd/config.toml'],
      ['1.6.20', '/etc/kubeadm-single-node/containerd/config.toml']
    ]) {
      const sb = await sandbox()
      const temp = sb.env.RUNNER_TEMP
      const r = await runBundle('index', sb, { ...runnerInputs(dry.with!, temp), SHIM_CONTAINERD_VERSION: version })
      assert.equal(r.code, 0, r.stdout)
      const ok = await runScript(check, { RUNNER_TEMP: temp })
      assert.equal(ok.code, 0, ok.out)
      assert.match(ok.out, new RegExp(`containerd config in the plan: ${path}\\n`), `containerd ${version}`)
      // a plan that writes no containerd config fails, naming both accepted paths
      const plan = JSON.parse(await readFile(join(temp, 'plan/plan.json'), 'utf8')) as Array<{ ops: Array<{ kind: string; path?: string }> }>
      for (const st of plan) st.ops = st.ops.filter((o) => o.path !== path)
      await writeFile(join(temp, 'plan/plan.json'), JSON.stringify(plan))
      const bad = await runScript(check, { RUNNER_TEMP: temp })
      assert.notEqual(bad.code, 0)
      assert.match(bad.out, /::error::the plan should write one containerd config\.toml, \/etc\/containerd\/config\.toml or \/etc\/kubeadm-single-node\/containerd\/config\.toml; it writes: none/)
    }
  })

  it('cache-save and cache-restore read the same entry key from their dry runs, of the same inputs as their builds', async () => {
    const save = workflow.jobs['cache-save']
    const restore = workflow.jobs['cache-restore']
    const planOf = (j: Job): Step => j.steps.find((s) => s.id === 'plan')!
    const buildOf = (j: Job): Step => j.steps.find((s) => s.id === 'k8s')!
    assert.deepEqual(planOf(save).with, planOf(restore).with)
    assert.deepEqual(buildOf(save).with, buildOf(restore).with)
    const same = Object.fromEntries(Object.entries(planOf(save).with!).filter(([k]) => k !== 'dry-run' && k !== 'plan-dir'))
    assert.deepEqual(same, buildOf(save).with, 'the dry run that names the key has the build inputs')
    assert.equal(save.outputs?.key, '${{ steps.key.outputs.key }}')
    const keyStep = (j: Job): string => j.steps.find((s) => s.id === 'key')!.run!
    assert.equal(keyStep(save), keyStep(restore))

    const sb = await sandbox()
    const temp = sb.env.RUNNER_TEMP
    // a runner gives every job the cache service's address; the dry run only reads that it is there
    const service = { ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/', ACTIONS_CACHE_URL: 'http://127.0.0.1:9/', ACTIONS_RUNTIME_TOKEN: 'stand-in' }
    const r = await runBundle('index', sb, { ...runnerInputs(planOf(save).with!, temp), ...service })
    assert.equal(r.code, 0, r.stdout)
    const output = join(sb.dir, 'key-output')
    await writeFile(output, '')
    const k = await runScript(keyStep(save), { RUNNER_TEMP: temp, GITHUB_OUTPUT: output })
    assert.equal(k.code, 0, k.out)
    assert.match(await readFile(output, 'utf8'), /^key=kubeadm-single-node-\d+-linux-amd64-v1\.34\.2-containerd-[0-9a-f]+\n$/)
  })

  it('cache-restore says why: cache-save failed, the keys differ, or the save did not happen', async () => {
    const restore = workflow.jobs['cache-restore']
    assert.equal(restore.needs, 'cache-save')
    assert.equal(restore.if, '${{ !cancelled() }}', 'it runs after a failed cache-save, to say so')
    assert.equal(restore.env?.SAVE_RESULT, '${{ needs.cache-save.result }}')
    const gate = restore.steps[0].run!
    const failed = await runScript(gate, { SAVE_RESULT: 'failure', SAVE_KEY: '' })
    assert.notEqual(failed.code, 0)
    assert.match(failed.out, /::error::cache-save ended 'failure': its post step saves an entry only after a successful run/)
    assert.equal((await runScript(gate, { SAVE_RESULT: 'success', SAVE_KEY: 'k' })).code, 0)

    const verdict = step('cache-restore', (s) => s.name === 'the whole entry was restored').run!
    const dir = await mkdtemp(join(tmpdir(), 'ksn-e2e-'))
    const summary = join(dir, 'summary')
    await writeFile(summary, '')
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ KEY: 'k1', SAVE_KEY: 'k2', HIT: 'false', SAVE_HIT: 'false' }, /cache-hit is 'false', not 'true', for k1: this job's key is not cache-save's \(k2\)/],
      [{ KEY: 'k1', SAVE_KEY: 'k1', HIT: 'false', SAVE_HIT: 'true' }, /cache-save restored this very entry, so it exists: the restore here failed/],
      [{ KEY: 'k1', SAVE_KEY: 'k1', HIT: 'partial', SAVE_HIT: 'false' }, /cache-hit is 'partial'.*its post step's log says 'Cache: saved' or warns why/]
    ]
    for (const [env, why] of cases) {
      const r = await runScript(verdict, { ...env, GITHUB_STEP_SUMMARY: summary })
      assert.notEqual(r.code, 0)
      assert.match(r.out, /^key=k1 cache-hit=\w+ \(cache-save: key=k\d cache-hit=\w+\)$/m)
      assert.match(r.out, why)
    }
    assert.match(await readFile(summary, 'utf8'), /^cache entry `k1`: cache-hit `false` \(cache-save's: `false`\)$/m)
  })

  it('the command-line job turns the CLI output lines into step outputs for its figures', async () => {
    const up = step('command-line', (s) => s.id === 'up').run!
    const sed = up.split('\n').find((l) => l.startsWith('sed '))!
    const dir = await mkdtemp(join(tmpdir(), 'ksn-e2e-'))
    // the CLI prints outputs the same way for plan and up: NAME: VALUE on stderr
    const log = await new Promise<string>((done) => execFile(NODE24, [resolve('dist/cli.js'), 'plan', '--kubernetes-version', 'v1.34.2', '--cache', 'false'], (_e, o, e) => done(o + e)))
    await writeFile(join(dir, 'up.log'), log)
    const output = join(dir, 'output')
    await writeFile(output, '')
    const r = await runScript(sed, { RUNNER_TEMP: dir, GITHUB_OUTPUT: output })
    assert.equal(r.code, 0, r.out)
    const lines = (await readFile(output, 'utf8')).split('\n')
    const timings = lines.find((l) => l.startsWith('timings='))
    assert.ok(timings, `a timings line in ${lines.join(' | ')}`)
    assert.ok(JSON.parse(timings.slice('timings='.length)).total >= 0)
    assert.ok(lines.includes('kubernetes-version=v1.34.2'))
  })
  it('the offline job brings what the dry run names, and the offline plan then finds every piece but the packages', async () => {
    // stand-ins for the network and the host: curl writes a file, docker save a docker-save
    // archive whose manifest.json names the images, sudo runs what it is given but apt-get
    const dir = await mkdtemp(join(tmpdir(), 'ksn-e2e-'))
    const bin = join(dir, 'bin')
    await mkdir(bin)
    const log = join(dir, 'log')
    const shim = async (name: string, body: string): Promise<void> => writeFile(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 })
    await shim('curl', 'echo "curl $3" >> "$SHIM_LOG"; [ "$1" = -fsSLo ] && printf "stand-in\\n" > "$2"')
    await shim(
      'docker',
      [
        'echo "docker $*" >> "$SHIM_LOG"',
        '[ "$1" = save ] || exit 0',
        'out=$3; shift 3; d=$(mktemp -d)',
        'printf \'[{"Config":"c.json","RepoTags":[%s],"Layers":[]}]\' "$(printf \'"%s",\' "$@" | sed \'s/,$//\')" > "$d/manifest.json"',
        'echo "{}" > "$d/c.json"; tar -C "$d" -cf "$out" manifest.json c.json; rm -r "$d"'
      ].join('\n')
    )
    await shim('sudo', '[ "$1" = apt-get ] && { echo "sudo $*" >> "$SHIM_LOG"; exit 0; }; exec "$@"')
    const job = workflow.jobs.offline
    const bring = job.steps.find((s) => s.name === 'bring every piece onto the runner')!.run!
    const k8s = join(dir, 'k8s')
    await mkdir(join(dir, 'temp'))
    const env = { PATH: `${bin}:${process.env.PATH}`, SHIM_LOG: log, K8S: k8s, V: job.env!.V, RUNNER_TEMP: join(dir, 'temp') }
    const r = await runScript(bring, env)
    assert.equal(r.code, 0, r.out)
    const calls = (await readFile(log, 'utf8')).split('\n')
    for (const b of ['kubeadm', 'kubelet', 'kubectl']) {
      assert.ok(calls.includes(`curl https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/${b}`), b)
      assert.ok(calls.includes(`curl https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/${b}.sha256`), `${b}.sha256`)
    }
    assert.ok(calls.some((c) => /^curl https:\/\/github\.com\/flannel-io\/flannel\/raw\/v[\d.]+\/Documentation\/kube-flannel\.yml$/.test(c)))
    assert.ok(calls.includes('docker pull mirror.gcr.io/library/nginx:stable-alpine'), 'Docker Hub through the mirror')
    assert.ok(calls.some((c) => c.startsWith('docker save -o ') && c.includes(' registry.k8s.io/pause:')))

    // what the job's offline step would be told, as a dry run with the same inputs
    const off = job.steps.find((s) => s.with?.offline === 'true')!.with!
    const exprs: Record<string, string> = { 'env.V': job.env!.V, 'env.K8S': k8s }
    const flag = (v: string): string => v.replace(/\$\{\{ ([^}]+) \}\}/g, (_, e: string) => exprs[e.trim()] ?? '')
    const args = ['plan', ...Object.entries(off).flatMap(([k, v]) => [`--${k}`, flag(v)])]
    const plan = await new Promise<string>((done) => execFile(process.execPath, [resolve('dist/cli.js'), ...args], { env: { ...process.env, ...env } }, (_e, o, e) => done(o + e)))
    const stops = plan.split('\n').filter((l) => l.includes('A real run would stop here'))
    assert.ok(plan.includes('offline: nothing is pulled'), plan)
    assert.deepEqual(
      stops.filter((l) => !/install them on the runner's image first/.test(l)),
      [],
      'every file and image is there; only the packages, which the job apt-get installs, are left'
    )
  })
})

describe('e2e figures (the composite run after each build)', () => {
  const script = resolve(`${FIGURES}/figures.mjs`)
  const load = async (): Promise<{ PHASES: string[]; figuresMarkdown: (a: Record<string, string | undefined>) => string }> => import(pathToFileURL(script).href)

  it('knows the action phases, in order', async () => {
    assert.deepEqual((await load()).PHASES, [...PHASES])
  })

  it('one row: time to nginx is the total when nginx answered, every phase in its column, the rest as –', async () => {
    const { figuresMarkdown } = await load()
    const timings = '{"cache":0.4,"host":1.2,"binaries":4.1,"config":0.3,"runtime":4,"images":18.2,"init":21.5,"network":0.6,"ready":14.2,"smoke":15,"total":62.3}'
    const md = figuresMarkdown({ label: 'ubuntu-24.04 / defaults', runner: 'ubuntu24 x64', outcome: 'success', version: 'v1.34.2', cacheHit: 'false', nginxUrl: 'http://10.1.0.4:31234/', timings })
    const [heading, , head, , row] = md.split('\n')
    assert.equal(heading, '#### e2e figures: ubuntu-24.04 / defaults')
    assert.equal(head, `| build | runner | outcome | version | cache-hit | time to nginx (s) | ${PHASES.join(' | ')} | total (s) |`)
    assert.equal(row, '| ubuntu-24.04 / defaults | ubuntu24 x64 | success | v1.34.2 | false | 62.3 | 0.4 | 1.2 | 4.1 | 0.3 | 4 | 18.2 | 21.5 | 0.6 | – | 14.2 | 15 | 62.3 |')

    const failed = figuresMarkdown({ label: 'rerun / first', outcome: 'failure', timings: '{"host":1.5,"binaries":3,"total":9.9}' })
    assert.match(failed, /\| rerun \/ first \| – \| failure \| – \| – \| – \| – \| 1\.5 \| 3 \| – \| – \| – \| – \| – \| – \| – \| – \| 9\.9 \|/)
    assert.match(figuresMarkdown({ label: 'x', outcome: 'failure', timings: '' }), /> no timings output/)
    assert.match(figuresMarkdown({ label: 'x', timings: 'not json' }), /> timings output is not JSON: not json/)
    assert.match(figuresMarkdown({ label: 'a|b', timings: '{"total":1}' }), /^\| a\\\|b \|/m)
  })

  it('runs as the composite runs it: the environment in, a row appended to the job summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksn-e2e-'))
    const summary = join(dir, 'summary')
    await mkdir(dir, { recursive: true })
    await writeFile(summary, '# earlier\n')
    const composite = parse(readFileSync(`${FIGURES}/action.yml`, 'utf8')) as { runs: { steps: Step[] } }
    const run = composite.runs.steps[0]
    const exprs: Record<string, string> = { 'inputs.label': 'calico', 'inputs.timings': '{"smoke":2,"total":70}', 'inputs.nginx-url': 'http://x/', 'inputs.outcome': 'success' }
    const env: Record<string, string> = { GITHUB_ACTION_PATH: resolve(FIGURES), GITHUB_STEP_SUMMARY: summary, ImageOS: 'ubuntu24', ImageVersion: '20261110.1', RUNNER_ARCH: 'X64' }
    for (const [k, v] of Object.entries(run.env!)) env[k] = v.replace(/^\$\{\{ (.+) \}\}$/, (_, e: string) => exprs[e] ?? '')
    const r = await runScript(run.run!, env)
    assert.equal(r.code, 0, r.out)
    const text = await readFile(summary, 'utf8')
    assert.ok(text.startsWith('# earlier\n#### e2e figures: calico\n'), text)
    assert.match(text, /\| calico \| ubuntu24 20261110\.1 X64 \| success \| – \| – \| 70 \|/)
  })
})
