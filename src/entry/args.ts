// The command line's words: which flags each command takes, read from the input table
// (src/inputs/table.ts), and the help that says them. Pure: argv in, a parsed command or
// a UsageError out. Each command takes only the flags it uses; an unknown, repeated or unused
// flag, a missing value or a stray argument is an error that names it (exit code 2).
import { INPUTS, plainText, type AnyInputSpec, type InputKind, type InputName } from '../inputs/table.js'
import { HOST_PATHS } from '../host/paths.js'

export const COMMANDS = ['plan', 'up', 'down', 'diagnose'] as const
export type Command = (typeof COMMANDS)[number]

export const PROGRAM = 'kubeadm-single-node'

/** Bad usage: the message names what is wrong; the caller prints it and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: Command
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

interface Flag {
  name: string
  /** what its value is, for the help; absent: a switch, which takes no value */
  value?: string
  help: string
  /** the input it sets, if it is one */
  input?: InputName
}

/** The value's name in the help, by the input's kind. */
const VALUE_OF: Record<InputKind, string> = {
  boolean: 'true|false',
  enum: '',
  version: 'VERSION',
  cidr: 'CIDR',
  'address-pool': 'CIDR|FIRST-LAST',
  duration: 'DURATION',
  url: 'URL',
  'url-or-path': 'URL|PATH',
  image: 'IMAGE',
  'image-repository': 'REPOSITORY',
  list: 'LIST',
  lines: 'LINES',
  paths: 'PATHS',
  path: 'DIR',
  'yaml-or-path': 'YAML|PATH',
  'cni-version': 'VERSION',
  secret: '',
  'secret-lines': '',
  'port-or-boolean': 'true|false|PORT'
}

const specs = INPUTS as readonly AnyInputSpec[]

function inputFlag(spec: AnyInputSpec): Flag {
  const def = spec.default !== '' ? `default ${spec.default}` : spec.empty ? `empty: ${plainText(spec.empty)}` : ''
  return {
    name: spec.name,
    value: spec.kind === 'enum' ? (spec.values ?? []).join('|') : VALUE_OF[spec.kind],
    help: `${plainText(spec.summary)}${def ? ` (${def})` : ''}`,
    input: spec.name as InputName
  }
}

/** Inputs that are flags: every one but the secrets, read from the environment, and the post step's, which the command line has not. */
const INPUT_FLAGS = specs.filter((s) => !s.env && !s.postStep).map(inputFlag)
const LEDGER: Flag = { name: 'ledger', value: 'FILE', help: `the ledger of host changes (default ${HOST_PATHS.ledgerFile}, root's)` }

const FLAGS: Record<Command, Flag[]> = {
  // plan is the dry run itself, and writes its tree with --out
  plan: [
    ...INPUT_FLAGS.filter((f) => f.input !== 'dry-run' && f.input !== 'plan-dir'),
    { name: 'out', value: 'DIR', help: 'also write each file at its host path under DIR, beside plan.txt and plan.json' },
    { ...LEDGER, help: 'the ledger an earlier up left, said in the plan (on-existing)' }
  ],
  up: [...INPUT_FLAGS, LEDGER, { name: 'verbose', help: "each step's detail (a failed step always shows it)" }],
  down: [LEDGER, { name: 'dry-run', value: 'true|false', help: 'print the undo it would run, and change nothing' }],
  diagnose: [
    LEDGER,
    { name: 'out', value: 'DIR', help: "also write the diagnostics archive there, as the action's diagnostics-artifact holds it: kubeadm-single-node-diagnostics-HOST-TIME.tar.gz (whole journals, cluster-info dump, every pod's logs, the configuration files with secrets redacted, the ledger, the timings)" }
  ]
}

const SUMMARY: Record<Command, string> = {
  plan: 'print every command and file the action would run or write on this host, in order, changing nothing',
  up: 'build the cluster on this host (root or passwordless sudo), recording every host change in the ledger; each step is shown as it starts and ends (--dry-run true: the same as plan, with --plan-dir as its --out)',
  down: 'undo every change the ledger records, newest first',
  diagnose: 'logs, cluster state and hints after a failed up (--out DIR: all of it, and more, as one .tar.gz)'
}

export interface Parsed {
  command: Command
  /** the flags given, by name, as written (a switch as 'true') */
  values: Map<string, string>
}

/** `--help` (or -h): the help of the command named, or of the program. */
export type ParseResult = Parsed | { help: Command | 'program' }

function helpFor(command: Command): string {
  return `'${PROGRAM} ${command} --help' lists the flags ${command} takes`
}

/** Where a flag a command does not take belongs instead, said in the error. */
function elsewhere(name: string, command: Command): string {
  const secret = specs.find((s) => s.name === name && s.env)
  if (secret) return `--${name} is never a flag, as a command line is readable by every user of the machine in /proc: set $${secret.env} instead`
  const post = specs.find((s) => s.name === name && s.postStep)
  if (post) return `${command} does not take --${name}: that input is the action's post step's, and the command line has no post step; ${post.postStep}`
  const hints: Record<string, string> = {
    'plan-dir': 'plan writes its tree with --out DIR',
    'dry-run': command === 'plan' ? 'plan never changes the host' : '',
    out: command === 'up' ? "up writes no plan tree: 'plan --out DIR' does (or 'up --dry-run true --plan-dir DIR')" : ''
  }
  const others = COMMANDS.filter((c) => c !== command && FLAGS[c].some((f) => f.name === name))
  const where = hints[name] || (others.length ? `it is a flag of ${others.join(' and ')}` : '')
  return `${command} does not take --${name}${where ? ` (${where})` : ''}; ${helpFor(command)}`
}

/**
 * Reads argv: COMMAND first, then flags, each `--name VALUE` or `--name=VALUE` (a switch
 * alone). A value that starts with '-' is taken only as `--name=VALUE`, so that a forgotten
 * value never swallows the next flag.
 */
export function parseArgv(argv: readonly string[]): ParseResult {
  const isHelp = (a: string): boolean => a === '--help' || a === '-h'
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError(`no command given; the commands are ${COMMANDS.join(', ')}`)
  if (isHelp(first)) return { help: 'program' }
  if (first.startsWith('-')) throw new UsageError(`the command comes first (${PROGRAM} COMMAND [--FLAG VALUE ...]), not ${JSON.stringify(first)}; the commands are ${COMMANDS.join(', ')}`)
  if (!(COMMANDS as readonly string[]).includes(first)) throw new UsageError(`unknown command ${JSON.stringify(first)}; the commands are ${COMMANDS.join(', ')}`)
  const command = first as Command
  if (rest.some(isHelp)) return { help: command }
  const flags = new Map(FLAGS[command].map((f) => [f.name, f]))
  const values = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(
        `${command} takes no argument ${JSON.stringify(arg)}: every value follows its flag (a value of several words or lines is one quoted argument); ${helpFor(command)}`,
        command
      )
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const flag = flags.get(name)
    if (!flag) {
      const known = specs.some((s) => s.name === name) || COMMANDS.some((c) => FLAGS[c].some((f) => f.name === name))
      throw new UsageError(known ? elsewhere(name, command) : `unknown flag --${name} for ${command}; ${helpFor(command)}`, command)
    }
    if (values.has(name)) throw new UsageError(`--${name} is given twice; give it once (a list of several lines is one argument)`, command)
    let value: string
    if (flag.value === undefined) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value; write --${name} alone`, command)
      value = 'true'
    } else if (eq >= 0) {
      value = arg.slice(eq + 1)
    } else {
      const next = rest[i + 1]
      if (next === undefined) throw new UsageError(`--${name} needs a value (${flag.value}); ${helpFor(command)}`, command)
      if (next.startsWith('-')) {
        throw new UsageError(`--${name} is followed by ${JSON.stringify(next)}, which starts with '-': if that is its value, write --${name}=${next}; otherwise give --${name} its value (${flag.value})`, command)
      }
      value = next
      i++
    }
    values.set(name, value)
  }
  return { command, values }
}

/** A paragraph wrapped at `width` columns, each line indented by `indent` spaces. */
function wrap(text: string, indent: number, width = 100): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines.map((l) => `${' '.repeat(indent)}${l}`)
}

const flagLine = (f: Flag): string => `  --${f.name}${f.value ? ` ${f.value}` : ''}`

/** One command's help: what it does, and every flag it takes with what the flag accepts. */
export function commandHelp(command: Command): string {
  const flags = FLAGS[command]
  const inputs = flags.filter((f) => f.input)
  const others = flags.filter((f) => !f.input)
  const out = [`usage: ${PROGRAM} ${command}${inputs.length ? ' [--INPUT VALUE ...]' : ''}${others.map((f) => ` [--${f.name}${f.value ? ` ${f.value}` : ''}]`).join('')}`, '', ...wrap(SUMMARY[command], 0)]
  if (inputs.length) {
    out.push('', "Inputs: each flag takes the values the action's input of the same name takes (the README's Inputs).")
    for (const f of inputs) out.push(flagLine(f), ...wrap(f.help, 6))
    out.push('', 'Secrets are never flags, as a command line is readable by every user of the machine in /proc:')
    for (const s of specs.filter((s) => s.env)) out.push(`  $${s.env}`, ...wrap(`the input ${s.name}: ${plainText(s.summary)}`, 6))
  }
  out.push('', 'Flags:')
  for (const f of others) out.push(flagLine(f), ...wrap(f.help, 6))
  out.push('  --help', '      this help')
  return out.join('\n')
}

/** The program's help: the commands, and where each one's flags are listed. */
export function programHelp(): string {
  const out = [`usage: ${PROGRAM} COMMAND [--FLAG VALUE ...]`, '', 'Commands:']
  for (const c of COMMANDS) out.push(`  ${c}`, ...wrap(SUMMARY[c], 6))
  out.push(
    '',
    ...wrap(
      `'${PROGRAM} COMMAND --help' lists the flags a command takes: plan and up take every action input as a flag of the same name (--kubernetes-version v1.34.2, --registry-mirrors 'docker.io=https://mirror.gcr.io'), but the secrets, read from ${specs
        .filter((s) => s.env)
        .map((s) => `$${s.env} (${s.name})`)
        .join(' and ')}.`,
      0
    ),
    '',
    'Exit codes: 0 done, 1 failed (the message says what is left on the host), 2 bad input or usage.'
  )
  return out.join('\n')
}

/** The input flags given, as the parser reads inputs: '' for one not given; the secrets from the environment. */
export function inputGetter(values: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv): (name: string) => string {
  return (name) => {
    const spec = specs.find((s) => s.name === name)
    if (spec?.env) return env[spec.env] ?? ''
    return values.get(name) ?? ''
  }
}

/** An input error in the command line's words: a secret's input is named with the variable it is read from. */
export function inCommandLineWords(problem: string): string {
  let out = problem
  for (const s of specs.filter((s) => s.env)) out = out.replaceAll(`Input '${s.name}'`, `Input '${s.name}' ($${s.env})`)
  return out
}
