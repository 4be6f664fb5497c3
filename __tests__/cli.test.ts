// The command line as a person runs it: src/entry/cli.ts bundled the way scripts/bundle.mjs
// bundles dist/cli.js (from the source under test, into a temporary folder), run as a
// process with the recording shims first on PATH. And the terminal's progress lines.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { access, lchown, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import { before, describe, it } from 'node:test'
import { build } from 'esbuild'
import { INPUT_NAMES } from '../src/inputs/parse.js'
import { step } from '../src/engine/step.js'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import { terminalReporter } from '../src/io/reporter.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { HAVE_NODE24, NODE24, sandbox, type Sandbox } from './helpers/runner.js'
import { onlyProbes } from './helpers/facts.js'


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

  it("up --help names every input as a flag, but the two secrets, which it names with their variables, and the post step's diagnostics-artifact", async () => {
    const r = await runCli(await sandbox(), ['up', '--help'])
    assert.equal(r.code, 0)
    const secrets: Record<string, string> = { 'github-token': 'GITHUB_TOKEN', 'registry-credentials': 'KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS' }
    for (const name of INPUT_NAMES) {
      if (name === 'diagnostics-artifact') assert.doesNotMatch(r.stdout, / --diagnostics-artifact\b/)
      else assert.match(r.stdout, secrets[name] ? new RegExp(`\\$${secrets[name]}\\b`) : new RegExp(` --${name}\\b`), name)
    }
  })

  it('plan reads what each image archive declares: it names the images it imports and pulls none of them', async () => {
    const sb = await sandbox()
    const dir = join(sb.dir, 'archive')
    await mkdir(dir, { recursive: true })
    const flannelImage = 'ghcr.io/flannel-io/flannel:v0.28.9'
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: [flannelImage], Layers: [] }]))
    await writeFile(join(dir, 'cfg.json'), '{}')
    const archive = join(sb.dir, 'flannel.tar')
    await new Promise<void>((done, fail) => execFile('tar', ['-cf', archive, '-C', dir, 'manifest.json', 'cfg.json'], (err) => (err ? fail(err) : done())))
    const r = await runCli(sb, ['plan', '--kubernetes-version', 'v1.34.2', '--image-archives', `${archive}\n${join(sb.dir, 'later.tar')}`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`import .*${archive.replace(/[/.]/g, '\\$&')}.*\\(brings ${flannelImage.replace(/[/.]/g, '\\$&')}\\)`))
    assert.doesNotMatch(r.stdout, /pull .*flannel-io\/flannel:v0\.28\.9/, 'what the archive brings is not pulled')
    assert.match(r.stdout, /pull .*flannel-io\/flannel-cni-plugin:v1\.9\.1-flannel3/, 'what it does not bring is')
    assert.match(r.stdout, /later\.tar could not be read now: an image it brings is imported, not pulled/)
  })

  it('takes registry-credentials from the environment, never from a flag, which /proc would show every user', async () => {
    const token = 'dckr_pat_cli_secret'
    const flag = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.34.2', '--registry-credentials', `docker.io=ci:${token}`])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /^error: --registry-credentials is never a flag, .*: set \$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS instead/)
    assert.ok(!flag.stderr.includes(token), 'the refused value is not repeated')
    const bad = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.34.2'], { KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS: 'docker.io' })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /Input 'registry-credentials' \(\$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS\) line 1/)
    const r = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.34.2'], { KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS: `docker.io=ci:${token}` })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /<registry-credentials: token for docker\.io>/)
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token itself is never printed')
  })

  it('refuses misuse with exit code 2, naming it, before anything runs', async () => {
    const sb = await sandbox()
    for (const [args, message] of [
      [['upp'], /^error: unknown command "upp"; the commands are plan, up, down, diagnose\n/],
      [['down', '--kubernetes-version', 'v1.34.2'], /^error: down does not take --kubernetes-version/],
      [['up', '--out', 'plan'], /^error: up does not take --out/],
      [['up', '--kubernetes-version', 'v1.34.2', '--plan-dir', 'plan'], /^error: up takes --plan-dir only with --dry-run true/],
      [['plan', '--cni', 'calico', '--cni', 'flannel'], /^error: --cni is given twice/],
      [['plan', 'now'], /^error: plan takes no argument "now"/],
      [['plan', '--timeout', '-5m'], /^error: --timeout is followed by "-5m", which starts with '-': if that is its value, write --timeout=-5m/],
      [['plan', '--timeout=-5m', '--kubernetes-version', 'v1.34.2'], /^error: Input 'timeout' has the value "-5m"; accepted: a positive duration/]
    ] as Array<[string[], RegExp]>) {
      const r = await runCli(sb, args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(r.stdout, '', 'no plan, no help')
    }
    assert.deepEqual(await readFile(sb.files.log, 'utf8'), '', 'not even a probe ran')
  })

  it("refuses a plan directory that is a file, naming --out, before the plan is printed; says 'this host'", async () => {
    const sb = await sandbox()
    const file = join(sb.dir, 'a-file')
    await writeFile(file, 'x')
    const r = await runCli(sb, ['plan', '--kubernetes-version', 'v1.34.2', '--out', file])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /^error: Input '--out' has the value ".*a-file", which is not a directory; accepted: a directory this user can write in/)
    assert.equal(r.stdout, '')
    const under = await runCli(sb, ['plan', '--kubernetes-version', 'v1.34.2', '--out', join(file, 'plan')])
    assert.match(under.stderr, /^error: Input '--out' has the value ".*a-file\/plan", whose .*a-file is not a directory, so it cannot be made/)
    const ok = await runCli(sb, ['plan', '--kubernetes-version', 'v1.34.2'])
    assert.match(ok.stdout, /^Kubernetes v1\.34\.2 on amd64, .*, this host$/m)
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
    assert.deepEqual(onlyProbes(r.commands), [], 'only read-only probes ran')
  })

  it("plan for a minor newer than the version table, on a host whose containerd is too old: the action's own containerd, and the rules it assumed", async () => {
    const r = await runCli(await sandbox(), ['plan', '--kubernetes-version', 'v1.38.0'], { SHIM_CONTAINERD_VERSION: '1.6.20' })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Kubernetes v1\.38\.0 is newer than this action's version table \(newest 1\.37\), so the plan assumes 1\.37's rules: containerd 2\.3\.0\+ or 2\.2\.0\+ where containerd serves the CRI/)
    assert.match(r.stdout, /this host has containerd 1\.6\.20: the action runs its own containerd 2\.2\.1/)
    assert.match(r.stdout, /crictl v1\.38\.0 \(v1\.37\.0, then v1\.36\.0 while it is not published\)/)
    assert.match(r.stdout, /\$ \/usr\/local\/bin\/kubeadm config print init-defaults/)
    assert.deepEqual(onlyProbes(r.commands), [], 'only read-only probes ran')
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

  it('down --dry-run true prints the undo it would run, and changes nothing: not the host, not the ledger', { skip: process.getuid?.() === 0 ? false : "needs root: the ledger is root's" }, async () => {
    const sb = await sandbox()
    const ledger = join(sb.dir, 'ledger.json')
    // paths under the roots the action writes to, as a trusted ledger's are; a dry run only reads them
    const made = join(HOST_PATHS.stateDir, 'ksn-dry-run-test', 'made-by-up')
    const dir = join(HOST_PATHS.stateDir, 'ksn-dry-run-test')
    const earlier: LedgerRecord = {
      changes: [
        { kind: 'dir', path: dir },
        { kind: 'file', path: made },
        { kind: 'unit-enabled', unit: 'kubelet', was: 'disabled', wasActive: false }
      ],
      completed: [],
      cleanup: false,
      kubeconfig: join(sb.env.HOME, '.kube/config'),
      paths: HOST_PATHS,
      runtime: 'containerd',
      cni: 'flannel'
    }
    await writeFile(ledger, JSON.stringify(earlier), { mode: 0o600 })
    for (const flag of [['--dry-run', 'true'], ['--dry-run=True']]) {
      const r = await runCli(sb, ['down', '--ledger', ledger, ...flag])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /== Cleanup \(dry run: nothing on this host is changed\): 3 changes would be undone/)
      assert.match(r.stdout, new RegExp(`\\$ systemctl disable --now -- kubelet   \\(as root\\)\\n\\$ rm -f ${made}   \\(as root\\)\\n\\$ rm -rf --one-file-system ${dir}   \\(as root\\)`))
      assert.match(r.stdout, /would undo: .*made-by-up \(created\)/)
      assert.deepEqual(r.commands, [], 'nothing ran')
      assert.deepEqual(JSON.parse(await readFile(ledger, 'utf8')), earlier, 'the ledger is as it was')
    }
    const bad = await runCli(sb, ['down', '--ledger', ledger, '--dry-run', 'yes'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^error: Flag '--dry-run' has the value "yes"; accepted: 'true' or 'false'/)
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
  it('diagnose --out DIR writes the diagnostics archive, its configuration files redacted by key', { skip: process.getuid?.() === 0 ? false : "needs root: the ledger is root's" }, async () => {
    const sb = await sandbox()
    const ledger = join(sb.dir, 'ledger.json')
    const password = 'cli-planted-password-77aa'
    // a file the action writes in the user's home (a root the ledger may name); no credential in the environment
    const dockerConfig = join(sb.env.HOME, '.docker/config.json')
    await mkdir(join(dockerConfig, '..'), { recursive: true })
    await writeFile(dockerConfig, `${JSON.stringify({ auths: { 'docker.io': { auth: Buffer.from(`ci:${password}`).toString('base64') } } }, null, 2)}\n`)
    // a file of the ledger that a user made a link to a file only root may read: never followed
    const shadow = join(sb.dir, 'shadow')
    await writeFile(shadow, 'root-only-content-5d1e\n', { mode: 0o600 })
    const planted = join(sb.env.HOME, '.docker/daemon-planted.json')
    await symlink(shadow, planted)
    await lchown(planted, 1000, 1000)
    const earlier: LedgerRecord = {
      changes: [{ kind: 'file', path: dockerConfig }, { kind: 'file', path: planted }],
      completed: ['binaries.kubectl'],
      failed: { step: 'init.kubeadm', message: 'kubeadm init failed' },
      cleanup: false,
      kubeconfig: join(sb.env.HOME, '.kube/config'),
      paths: HOST_PATHS,
      runtime: 'containerd',
      cni: 'flannel',
      timings: [{ id: 'binaries.kubectl', phase: 'binaries', start: 0.5, end: 2.25 }]
    }
    await writeFile(ledger, JSON.stringify(earlier), { mode: 0o600 })
    const out = join(sb.dir, 'out')
    const r = await runCli(sb, ['diagnose', '--ledger', ledger, '--out', out])
    assert.equal(r.code, 0, r.stderr)
    const [archive, ...others] = await readdir(out)
    assert.deepEqual(others, [])
    assert.match(archive, /^kubeadm-single-node-diagnostics-[A-Za-z0-9._-]+-\d{8}T\d{6}Z\.tar\.gz$/)
    assert.match(r.stderr, new RegExp(`Diagnostics archive written: ${join(out, archive).replace(/[.]/g, '\\.')}`))
    const tar = gunzipSync(await readFile(join(out, archive)))
    for (const s of [password, Buffer.from(`ci:${password}`).toString('base64'), 'root-only-content-5d1e']) assert.equal(tar.includes(s), false, `the archive holds ${s}`)
    const x = await mkdtemp(join(tmpdir(), 'ksn-cli-archive-'))
    execFileSync('tar', ['-xzf', join(out, archive), '-C', x])
    const top = join(x, archive.replace(/\.tar\.gz$/, ''))
    assert.match(await readFile(join(top, 'diagnostics.txt'), 'utf8'), /^Failed step: init\.kubeadm\nkubeadm init failed/)
    assert.match(await readFile(join(top, 'configs', dockerConfig), 'utf8'), /"auth": "<redacted>"/)
    assert.deepEqual(JSON.parse(await readFile(join(top, 'timings.json'), 'utf8')), { phases: { binaries: 1.8, total: 2.3 }, steps: earlier.timings })
    assert.equal(JSON.parse(await readFile(join(top, 'ledger.json'), 'utf8')).failed.step, 'init.kubeadm')
    assert.match(await readFile(join(top, 'journals/containerd.log'), 'utf8'), /journal of -u containerd --no-pager/)

    const bad = await runCli(sb, ['diagnose', '--ledger', ledger, '--output', out])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^error: unknown flag --output for diagnose/)
    const down = await runCli(sb, ['down', '--ledger', ledger, '--out', out])
    assert.equal(down.code, 2)
    assert.match(down.stderr, /^error: down does not take --out \(it is a flag of plan and diagnose\)/)
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
