// The command line as a person runs it: src/entry/cli.ts bundled the way scripts/bundle.mjs
// bundles dist/cli.js (from the source under test, into a temporary folder), run as a
// process with the recording shims first on PATH. And the terminal's progress lines.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { access, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { before, describe, it } from 'node:test'
import { build } from 'esbuild'
import { INPUT_NAMES } from '../src/config/inputs.js'
import { step } from '../src/engine/step.js'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import { terminalReporter } from '../src/io/reporter.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { HAVE_NODE24, NODE24, sandbox, type Sandbox } from './helpers/runner.js'

const READ_ONLY = /^(containerd --version|sudo -n true|docker (version|image inspect|info) .*)$/

describe('the command line, built', () => {
  let cli: string
  before(async () => {
    const out = await mkdtemp(join(tmpdir(), 'ksn-cli-'))
    await build({
      entryPoints: { cli: 'src/entry/cli.ts' },
      outdir: out,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      banner: { js: "import { createRequire as __ksnCreateRequire } from 'node:module'; const require = __ksnCreateRequire(import.meta.url);" },
      logLevel: 'warning'
    })
    cli = join(out, 'cli.js')
  })

  const runCli = (sb: Sandbox, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; commands: string[] }> =>
    new Promise((done) => {
      execFile(HAVE_NODE24 ? NODE24 : process.execPath, [cli, ...args], { env: { ...sb.env, ...env }, cwd: sb.dir, timeout: 60_000 }, async (err, stdout, stderr) => {
        const commands = (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, commands })
      })
    })

  it('--help names every input as a flag, but the two secrets, which it names with their variables', async () => {
    const r = await runCli(await sandbox(), ['--help'])
    assert.equal(r.code, 0)
    const secrets: Record<string, string> = { 'github-token': 'GITHUB_TOKEN', 'registry-credentials': 'KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS' }
    for (const name of INPUT_NAMES) assert.match(r.stdout, secrets[name] ? new RegExp(`\\$${secrets[name]}\\b`) : new RegExp(` --${name}\\b`), name)
  })

  it('takes registry-credentials from the environment, never from a flag, which /proc would show every user', async () => {
    const token = 'dckr_pat_cli_secret'
    const flag = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.34.2', '--registry-credentials', `docker.io=ci:${token}`])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /Unknown option '--registry-credentials'/)
    const r = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.34.2'], { KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS: `docker.io=ci:${token}` })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /<registry-credentials: token for docker\.io>/)
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token itself is never printed')
  })

  it('plan prints the whole plan, the new inputs included, writes the tree, and changes nothing', async () => {
    const sb = await sandbox()
    const out = join(sb.dir, 'plan')
    const r = await runCli(sb, ['plan', '--kubernetes-version', 'v1.34.2', '--load-images', 'my-app:ci', '--on-existing', 'reset', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Kubernetes v1\.34\.2 on amd64/m)
    assert.match(r.stdout, /images\.load: load 1 image from Docker/)
    assert.match(r.stdout, /\$ docker save --output '<temporary directory>\/images\.tar' docker\.io\/library\/my-app:ci/)
    assert.match(r.stdout, /kubeadm init --config \/etc\/kubeadm-single-node\/kubeadm\.yaml/)
    await access(join(out, 'plan.txt'))
    await access(join(out, 'etc/containerd/config.toml'))
    assert.deepEqual(r.commands.filter((c) => !READ_ONLY.test(c)), [], 'only read-only probes ran')
  })

  it('a bad input fails with the action\'s words, exit 2, before anything runs', async () => {
    const sb = await sandbox()
    const r = await runCli(sb, ['up', '--timeout', '2h', '--on-existing', 'replace'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^error: 2 inputs are invalid:\n/)
    assert.match(r.stderr, /Input 'timeout' has the value "2h"; accepted: a positive duration of at most 1h/)
    assert.match(r.stderr, /Input 'on-existing' has the value "replace"; accepted: 'fail' \(stop before changing anything\), 'reset' .*, 'reuse' /)
    assert.match(r.stderr, /Nothing on this host was changed\.\n$/)
    assert.deepEqual(r.commands, [], 'not even a probe')
  })

  // the command line's ledger is the host's (HOST_PATHS): a test cannot let it undo real paths,
  // so its earlier run recorded what cleanup leaves in place (a package), and no command runs
  it('up refuses to build over what an earlier up recorded, and --cleanup true does not undo that earlier run', async () => {
    const sb = await sandbox()
    const ledger = join(sb.dir, 'ledger.json')
    const earlier: LedgerRecord = { changes: [{ kind: 'packages-installed', packages: ['conntrack'] }], completed: [], cleanup: false, kubeconfig: join(sb.env.HOME, '.kube/config'), paths: HOST_PATHS, runtime: 'containerd', cni: 'flannel' }
    await writeFile(ledger, JSON.stringify(earlier), { mode: 0o600 })
    const r = await runCli(sb, ['up', '--kubernetes-version', 'v1.34.2', '--ledger', ledger, '--cleanup', 'true'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /error: This host cannot run the cluster; nothing was changed:\n.*An earlier run's 1 host changes are still recorded in .*ledger\.json and not undone, and input 'on-existing' is 'fail'.*Or undo them first with `kubeadm-single-node down`/s)
    assert.deepEqual(JSON.parse(await readFile(ledger, 'utf8')), earlier)

    // down replays what up recorded, and then there is nothing left to undo
    const d = await runCli(sb, ['down', '--ledger', ledger])
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stderr, /== Cleanup: 0 changes undone\nleft in place: packages installed: conntrack/)
    await assert.rejects(access(ledger))
    assert.match((await runCli(sb, ['down', '--ledger', ledger])).stderr, /Nothing recorded/)
  })

  it('down over a damaged or crafted ledger exits 1 naming it and runs nothing; one in the old place is said and ignored', { skip: process.getuid?.() === 0 ? false : "needs root: the ledger is root's" }, async () => {
    const sb = await sandbox()
    const ledger = join(sb.dir, 'ledger.json')
    for (const [content, why] of [
      ['{"changes": [', /is not JSON \(.*\): it is damaged/],
      [JSON.stringify({ changes: [{ kind: 'command', what: 'x', undo: [['rm', '-rf', '/etc']] }], completed: [], cleanup: true, kubeconfig: join(sb.env.HOME, '.kube/config'), paths: HOST_PATHS, runtime: 'containerd', cni: 'flannel' }), /change 0 has kind "command", which is not one the action records/]
    ] as const) {
      await writeFile(ledger, content, { mode: 0o600 })
      const d = await runCli(sb, ['down', '--ledger', ledger])
      assert.equal(d.code, 1, d.stderr)
      assert.match(d.stderr, new RegExp(`^error: The ledger ${ledger} `, 'm'))
      assert.match(d.stderr, why)
      assert.match(d.stderr, /Nothing in it was run\. Inspect it as root \(sudo cat .*\); .*remove it as root \(sudo rm .*\), then run again\./)
      assert.doesNotMatch(d.stderr, /Nothing recorded/)
      assert.deepEqual(d.commands, [])
    }
    // earlier versions kept it in the home: found, said, never replayed
    const old = join(sb.env.HOME, '.local/state/kubeadm-single-node/ledger.json')
    await mkdir(join(old, '..'), { recursive: true })
    await writeFile(old, JSON.stringify({ changes: [{ kind: 'dir', path: '/etc' }], completed: [], cleanup: true, kubeconfig: '', paths: HOST_PATHS, runtime: 'containerd', cni: 'flannel' }))
    const d = await runCli(sb, ['down', '--ledger', join(sb.dir, 'none.json')])
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stderr, new RegExp(`Found ${old}, a ledger where earlier versions of this action kept it, in a user's home\\. It is ignored: .* Remove it \\(rm ${old}\\)`))
    assert.match(d.stderr, /Nothing recorded/)
    assert.deepEqual(d.commands, [])
  })
})

describe('the terminal reporter', () => {
  it('shows each step as it starts and ends, with the run\'s clock, and each phase when it is done', () => {
    const out = new PassThrough()
    let t = 0
    const io = terminalReporter(out, false, () => t)
    const a = step('host.kernel', 'kernel modules and sysctls', [], [])
    const b = step('binaries.kubeadm', 'kubeadm v1.34.2', [], [])
    io.start([a, b])
    io.stepStarted!(a)
    io.stepStarted!(b)
    t = 1200
    io.stepEnded(a, { id: a.id, phase: a.phase, start: 0, end: 1.2 }, ['hidden unless --verbose'])
    t = 3400
    io.stepEnded(b, { id: b.id, phase: b.phase, start: 0, end: 3.4 }, ['checksum mismatch'], new Error('x'))
    assert.equal(
      String(out.read()),
      [
        '2 steps in 2 phases (host, binaries); independent steps run at the same time',
        '   0.0s  → [1/2] host: kernel modules and sysctls',
        '   0.0s  → [2/2] binaries: kubeadm v1.34.2',
        '   1.2s  ✓ host: kernel modules and sysctls (1.2s)',
        '   1.2s  ── host done in 1.2s',
        '   3.4s  ✗ binaries: kubeadm v1.34.2 (3.4s, FAILED)',
        '           checksum mismatch',
        ''
      ].join('\n')
    )
  })
})
