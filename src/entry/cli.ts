// The command line: the same commands outside GitHub Actions (a plain VM, another CI).
//   node dist/cli.js plan --kubernetes-version v1.34.2 --out DIR
//   node dist/cli.js up [--INPUT VALUE ...]   then   down   (or diagnose after a failure)
// Every action input is a flag of the same name. The ledger that `up` writes and `down`
// replays is the host's root-owned file (--ledger, default /var/lib/kubeadm-single-node/ledger.json).
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { directoryCache } from '../cache/backend.js'
import { diagnose } from '../commands/diagnose.js'
import { down } from '../commands/down.js'
import type { CommandEnv } from '../commands/env.js'
import { plan } from '../commands/plan.js'
import { saveCache } from '../commands/save-cache.js'
import { up } from '../commands/up.js'
import { INPUT_NAMES, InputError, parseInputs, type InputName } from '../config/inputs.js'
import { createRun } from '../host/exec.js'
import { HOST_PATHS } from '../host/paths.js'
import { systemd } from '../host/services.js'
import { CNIS } from '../cnis/index.js'
import { oldLedgerNotice } from '../commands/existing.js'
import { hostLedgerStore } from '../io/host-ledger.js'
import { RUNTIME_NAMES } from '../runtimes/index.js'
import { terminalReporter } from '../io/reporter.js'

/** Every input as its flag, wrapped for a terminal: the README's Inputs table says what each takes. */
/** Inputs that hold secrets: read from the environment, never from a flag. */
const FROM_ENV: Partial<Record<InputName, string>> = {
  'github-token': 'GITHUB_TOKEN',
  'registry-credentials': 'KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS'
}

function inputFlags(): string {
  const lines: string[] = []
  let line = ' '
  for (const f of INPUT_NAMES.filter((n) => !FROM_ENV[n]).map((n) => ` --${n}`)) {
    if (line.length + f.length > 92) {
      lines.push(line)
      line = ' '
    }
    line += f
  }
  return [...lines, line].join('\n')
}

const USAGE = `usage: kubeadm-single-node COMMAND [--INPUT VALUE ...]

  plan [--out DIR]   print every command and file the action would run or write on this
                     host, in order, changing nothing; with --out (or --plan-dir), also write
                     each file at its host path under DIR, beside plan.txt and plan.json
  up                 build the cluster on this host (root or passwordless sudo), recording
                     every host change in the ledger; each step is shown as it starts and
                     ends (--dry-run true: the same as plan)
  diagnose           logs, cluster state and hints after a failed up
  down               undo every change the ledger records, newest first

Every action input is a flag of the same name, taking the same values (see the README's Inputs):
${inputFlags()}
e.g. --kubernetes-version v1.34.2   (an exact version needs no network)
     --registry-mirrors 'docker.io=https://mirror.gcr.io'   (a flag holds several lines too)
     --on-existing reset            (undo what an earlier up left, then build afresh)
Secrets are never flags (a command line is readable by every user in /proc): --cni-version
latest reads a GitHub token from $GITHUB_TOKEN, and registry-credentials are read from
$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS (the input's lines).
--cleanup true undoes a failed up at once (after diagnose); otherwise the changes stay for
diagnose and down. Other flags: --ledger FILE (default ${HOST_PATHS.ledgerFile}, root's), --verbose (each step's detail), --help`

export async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries([...INPUT_NAMES.filter((n) => !FROM_ENV[n]), 'out', 'ledger'].map((n) => [n, { type: 'string' as const }]))
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' }, verbose: { type: 'boolean' } }, allowPositionals: true })
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const command = parsed.positionals[0]
  if (values.help || !['plan', 'up', 'down', 'diagnose'].includes(command ?? '')) {
    process.stdout.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const run = createRun({ debug: () => {} })
  const cacheHome = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kubeadm-single-node')
  const ledgerFile = typeof values.ledger === 'string' ? values.ledger : HOST_PATHS.ledgerFile
  const ledger = hostLedgerStore({ file: ledgerFile, run, paths: HOST_PATHS, home: process.env.HOME || homedir(), known: { runtimes: RUNTIME_NAMES, cnis: Object.keys(CNIS) } })
  const env: CommandEnv = {
    paths: HOST_PATHS,
    run,
    services: systemd(run),
    io: terminalReporter(command === 'plan' || values['dry-run'] === 'true' ? process.stdout : process.stderr, values.verbose === true),
    store: ledger,
    hostLedger: ledger,
    hostLedgerFile: ledgerFile,
    where: 'terminal',
    // a machine that keeps its disk keeps entries in a directory: the second `up` pulls nothing
    cache: directoryCache(join(cacheHome, 'entries'), join(cacheHome, 'entry'))
  }
  try {
    if (command === 'down' || command === 'diagnose') {
      const old = oldLedgerNotice()
      if (old) env.io.warning(old)
      // a ledger that cannot be read or trusted throws, naming it: exit 1, never "nothing recorded"
      const record = await env.store.load()
      if (!record) {
        env.io.info('Nothing recorded: no `up` has changed this host (or `down` already undid it).')
        return 0
      }
      env.paths = record.paths
      if (command === 'diagnose') await diagnose(record, env)
      else return (await down(record, env)).failed > 0 ? 1 : 0
      return 0
    }
    const config = parseInputs((name) => {
      const v = values[name]
      // a token on the command line would be in every process listing: taken from the environment
      const env = FROM_ENV[name as InputName]
      if (env) return process.env[env] ?? ''
      return typeof v === 'string' ? v : ''
    })
    if (command === 'plan' || config.dryRun) {
      const out = typeof values.out === 'string' ? values.out : config.planDir
      await plan(config, env, out, typeof values.out === 'string' ? '--out' : '--plan-dir')
    } else {
      if (config.planDir) env.io.warning(`--plan-dir (${config.planDir}) is only written by plan (or --dry-run true); this up changes the host and writes no plan tree.`)
      // whether this up recorded anything: a refusal leaves an earlier run's ledger alone
      let recorded = false
      env.store = { ...ledger, saveHead: (h) => ((recorded = true), ledger.saveHead(h)) }
      try {
        await up(config, env)
      } catch (err) {
        // --cleanup true: what the post step does after a failed main step, at once
        const record = config.cleanup === 'true' && recorded ? await env.store.load() : undefined
        if (record) {
          process.stderr.write(`error: ${(err as Error).message}\n--cleanup true: diagnosing, then undoing what this up changed.\n`)
          env.paths = record.paths
          await diagnose(record, env)
          await down(record, env)
          return 1
        }
        throw err
      }
      const record = await env.store.load()
      if (record) await saveCache(record, env)
    }
    return 0
  } catch (err) {
    // the action's words, the action's way of saying that bad input changed nothing
    const message = (err as Error).message
    process.stderr.write(`error: ${err instanceof InputError ? `${message}\nNothing on this host was changed.` : message}\n`)
    return err instanceof InputError ? 2 : 1
  }
}

process.exitCode = await main(process.argv.slice(2))
