// The command line: the same commands outside GitHub Actions (a plain VM, another CI).
//   node dist/cli.js plan --kubernetes-version v1.34.2 --out DIR
//   node dist/cli.js up [--INPUT VALUE ...]   then   down   (or diagnose after a failure)
// Each command takes only the flags it uses (src/entry/args.ts, from the input table). The
// ledger that `up` writes and `down` replays is the host's root-owned file (--ledger, default
// /var/lib/kubeadm-single-node/ledger.json).
import { homedir, hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { directoryCache } from '../cache/backend.js'
import { collectArchive } from '../commands/collect.js'
import { diagnose } from '../commands/diagnose.js'
import { down } from '../commands/down.js'
import type { CommandEnv } from '../commands/env.js'
import { plan } from '../commands/plan.js'
import { saveCache } from '../commands/save-cache.js'
import { up } from '../commands/up.js'
import { InputError, inputSecrets, parseBool, parseInputs } from '../inputs/parse.js'
import { createRun } from '../host/exec.js'
import { HOST_PATHS } from '../host/paths.js'
import { systemd } from '../host/services.js'
import { ADDONS } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import { oldLedgerNotice } from '../commands/existing.js'
import { hostLedgerStore } from '../io/host-ledger.js'
import { RUNTIME_NAMES } from '../runtimes/index.js'
import { terminalReporter } from '../io/reporter.js'
import { commandHelp, inCommandLineWords, inputGetter, parseArgv, programHelp, PROGRAM, UsageError, type Parsed } from './args.js'

/** The archive `diagnose --out` writes: this machine and the time, as a name safe in any file system. */
function cliArchiveName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `kubeadm-single-node-diagnostics-${hostname()}-${stamp}`.replace(/[^A-Za-z0-9._-]/g, '-')
}

function usageError(err: UsageError): number {
  process.stderr.write(`error: ${err.message}\n${err.command ? '' : `'${PROGRAM} --help' lists the commands.\n`}`)
  return 2
}

export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed
  try {
    const r = parseArgv(argv)
    if ('help' in r) {
      process.stdout.write(`${r.help === 'program' ? programHelp() : commandHelp(r.help)}\n`)
      return 0
    }
    parsed = r
  } catch (err) {
    if (err instanceof UsageError) return usageError(err)
    throw err
  }
  const { command, values } = parsed
  // a boolean flag reads as the input of the same name does (true, True, TRUE, ...)
  const flagBool = (name: string): boolean => {
    const v = values.get(name)
    if (v === undefined) return false
    try {
      return parseBool(`--${name}`, v)
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^Input '--/, "Flag '--"), command)
    }
  }
  let dryRun: boolean
  try {
    dryRun = flagBool('dry-run')
    if (command === 'up' && values.has('plan-dir') && !dryRun) {
      throw new UsageError("up takes --plan-dir only with --dry-run true (it then plans instead of building); 'plan --out DIR' writes a plan tree too", command)
    }
  } catch (err) {
    if (err instanceof UsageError) return usageError(err)
    throw err
  }
  const run = createRun({ debug: () => {} })
  const cacheHome = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kubeadm-single-node')
  const ledgerFile = values.get('ledger') ?? HOST_PATHS.ledgerFile
  const ledger = hostLedgerStore({ file: ledgerFile, run, paths: HOST_PATHS, home: process.env.HOME || homedir(), known: { runtimes: RUNTIME_NAMES, cnis: Object.keys(CNIS), addons: ADDONS.map((a) => a.input) } })
  const env: CommandEnv = {
    paths: HOST_PATHS,
    run,
    services: systemd(run),
    io: terminalReporter(command === 'plan' || dryRun ? process.stdout : process.stderr, values.has('verbose')),
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
      if (command === 'diagnose') {
        const diagnosis = await diagnose(record, env)
        const out = values.get('out')
        if (out !== undefined) {
          // the secrets the command line reads from the environment, as `up` did
          const secrets = inputSecrets(inputGetter(values, process.env))
          const archive = await collectArchive(record, env, diagnosis, { outDir: resolve(out), name: cliArchiveName(), secrets })
          env.io.info(`Diagnostics archive written: ${archive} (secrets redacted)`)
        }
      } else return (await down(record, env, { dryRun })).failed > 0 ? 1 : 0
      return 0
    }
    const config = parseInputs(inputGetter(values, process.env))
    if (command === 'plan' || config.dryRun) {
      const out = command === 'plan' ? values.get('out') : config.planDir
      await plan(config, env, out, command === 'plan' ? '--out' : '--plan-dir')
    } else {
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
    if (err instanceof InputError) {
      process.stderr.write(`error: ${inCommandLineWords(err.message)}\nNothing on this host was changed.\n`)
      return 2
    }
    process.stderr.write(`error: ${(err as Error).message}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
