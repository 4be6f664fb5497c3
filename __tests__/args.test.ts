// The command line's words (src/entry/args.ts): each command takes only its flags, from the
// input table, and every misuse is an error that names it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { INPUTS, type AnyInputSpec } from '../src/inputs/table.js'
import { commandHelp, inCommandLineWords, inputGetter, parseArgv, programHelp, UsageError, type Parsed } from '../src/entry/args.js'

const specs = INPUTS as readonly AnyInputSpec[]
const ok = (argv: string[]): Parsed => {
  const r = parseArgv(argv)
  assert.ok(!('help' in r))
  return r
}
const refused = (argv: string[], message: RegExp): void => {
  assert.throws(() => parseArgv(argv), (err: unknown) => err instanceof UsageError && message.test(err.message), `${argv.join(' ')} is refused with ${message}`)
}

describe('command-line flags', () => {
  it("takes every input as a flag of plan and up, but the secrets, the post step's diagnostics-artifact, dry-run and plan-dir (plan writes with --out)", () => {
    const up = ok(['up', ...specs.filter((s) => !s.env && !s.postStep).flatMap((s) => [`--${s.name}`, 'x'])])
    assert.equal(up.values.size, specs.length - 3)
    const plan = ok(['plan', ...specs.filter((s) => !s.env && !s.postStep && s.name !== 'dry-run' && s.name !== 'plan-dir').flatMap((s) => [`--${s.name}`, 'x']), '--out', '/tmp/p'])
    assert.equal(plan.values.get('out'), '/tmp/p')
  })

  it('names an unknown command, and a missing one', () => {
    refused(['upp'], /^unknown command "upp"; the commands are plan, up, down, diagnose$/)
    refused([], /^no command given/)
    refused(['--kubernetes-version', 'v1.34.2', 'plan'], /^the command comes first/)
  })

  it('refuses a flag the command does not use, saying where it belongs', () => {
    refused(['down', '--kubernetes-version', 'v1.34.2'], /^down does not take --kubernetes-version \(it is a flag of plan and up\)/)
    refused(['diagnose', '--dry-run', 'true'], /^diagnose does not take --dry-run \(it is a flag of up and down\)/)
    refused(['plan', '--dry-run', 'true'], /^plan does not take --dry-run \(plan never changes the host\)/)
    refused(['plan', '--plan-dir', '/tmp/p'], /^plan does not take --plan-dir \(plan writes its tree with --out DIR\)/)
    refused(['up', '--out', '/tmp/p'], /^up does not take --out \(up writes no plan tree: 'plan --out DIR' does/)
    refused(['plan', '--verbose'], /^plan does not take --verbose \(it is a flag of up\)/)
    refused(['up', '--diagnostics-artifact', 'always'], /^up does not take --diagnostics-artifact: that input is the action's post step's, and the command line has no post step; 'diagnose --out DIR' writes the same archive$/)
  })

  it('refuses an unknown flag, naming it', () => {
    refused(['up', '--kubernetes-versoin', 'v1.34.2'], /^unknown flag --kubernetes-versoin for up; 'kubeadm-single-node up --help' lists the flags up takes$/)
    refused(['up', '-v'], /^up takes no argument "-v"/)
  })

  it('sends secrets to their environment variables, never a flag', () => {
    refused(['plan', '--registry-credentials', 'docker.io=a:b'], /^--registry-credentials is never a flag, .*: set \$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS instead$/)
    refused(['up', '--github-token=x'], /^--github-token is never a flag, .*: set \$GITHUB_TOKEN instead$/)
    const get = inputGetter(new Map([['cni', 'calico']]), { GITHUB_TOKEN: 'ghs_x', KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS: 'docker.io=a:b' })
    assert.equal(get('github-token'), 'ghs_x')
    assert.equal(get('registry-credentials'), 'docker.io=a:b')
    assert.equal(get('cni'), 'calico')
    assert.equal(get('timeout'), '')
    assert.equal(
      inCommandLineWords("Input 'github-token' is empty, but ...; Input 'registry-credentials' line 2 ..."),
      "Input 'github-token' ($GITHUB_TOKEN) is empty, but ...; Input 'registry-credentials' ($KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS) line 2 ..."
    )
  })

  it('refuses a repeated flag and a stray argument, naming them', () => {
    refused(['up', '--cni', 'calico', '--cni=flannel'], /^--cni is given twice; give it once/)
    refused(['plan', '--kubernetes-version', 'v1.34.2', 'extra'], /^plan takes no argument "extra": every value follows its flag/)
    refused(['down', 'now'], /^down takes no argument "now"/)
  })

  it("takes a value that starts with '-' as --flag=VALUE, and otherwise says how to write it", () => {
    assert.equal(ok(['up', '--timeout=-5m']).values.get('timeout'), '-5m')
    assert.equal(ok(['up', '--kubeadm-config=a=b']).values.get('kubeadm-config'), 'a=b')
    assert.equal(ok(['up', '--preload-images=']).values.get('preload-images'), '')
    refused(['up', '--timeout', '-5m'], /^--timeout is followed by "-5m", which starts with '-': if that is its value, write --timeout=-5m; otherwise give --timeout its value \(DURATION\)$/)
    refused(['up', '--cni', '--timeout', '5m'], /^--cni is followed by "--timeout"/)
    refused(['up', '--cni'], /^--cni needs a value \(flannel\|calico\|bridge\|none\)/)
    refused(['up', '--verbose=yes'], /^--verbose takes no value/)
    assert.equal(ok(['up', '--verbose']).values.get('verbose'), 'true')
  })

  it('gives help for the program and for each command, from the input table', () => {
    assert.deepEqual(parseArgv(['--help']), { help: 'program' })
    assert.deepEqual(parseArgv(['down', '-h']), { help: 'down' })
    assert.deepEqual(parseArgv(['up', '--cni', 'calico', '--help']), { help: 'up' })
    const up = commandHelp('up')
    for (const s of specs) {
      if (s.postStep) assert.doesNotMatch(up, new RegExp(`--${s.name}\\b`), s.name)
      else assert.match(up, s.env ? new RegExp(`\\$${s.env}\\n {6}the input ${s.name}:`) : new RegExp(`^  --${s.name}\\b`, 'm'), s.name)
    }
    assert.match(up, /^ {2}--timeout DURATION\n {6}300, 300s, 5m, 1m30s, at most 1h .*\n {6}\(default 5m\)$/m)
    assert.match(up, /^ {2}--image-repository REPOSITORY\n(?: {6}.*\n)*? {6}.*\(empty: registry\.k8s\.io, or mirror-preset's\)$/m)
    assert.doesNotMatch(commandHelp('plan'), /--dry-run|--plan-dir|--verbose/)
    assert.match(commandHelp('down'), /--dry-run true\|false\n {6}print the undo it would run, and change nothing/)
    assert.doesNotMatch(commandHelp('diagnose'), /--INPUT|--dry-run/)
    assert.match(programHelp().replace(/\s+/g, ' '), /\$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS \(registry-credentials\) and \$GITHUB_TOKEN \(github-token\)/)
    for (const line of [...programHelp().split('\n'), ...up.split('\n')]) assert.ok(line.length <= 100, line)
  })
})
