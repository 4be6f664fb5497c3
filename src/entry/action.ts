// The action's two steps: Actions IO (inputs, log groups, outputs, state, summary) around
// the shared commands. One failure boundary each: main fails the step with the whole story;
// post never fails the job, it warns.
import { rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { basename } from 'node:path'
import * as core from '@actions/core'
import { actionsCache, type CacheBackend } from '../cache/backend.js'
import { collectArchive } from '../commands/collect.js'
import { diagnose, examine, type Diagnosis } from '../commands/diagnose.js'
import { down } from '../commands/down.js'
import type { CommandEnv } from '../commands/env.js'
import { plan } from '../commands/plan.js'
import { saveCache } from '../commands/save-cache.js'
import { up } from '../commands/up.js'
import { InputError, inputSecrets, parseInputs } from '../inputs/parse.js'
import { readKubeadmConfigFile } from '../config/input-files.js'
import { createRun } from '../host/exec.js'
import { HOST_PATHS, type Paths } from '../host/paths.js'
import { systemd } from '../host/services.js'
import { ADDONS } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import { hostLedgerStore, parseStateRecord, type StateRecordOptions } from '../io/host-ledger.js'
import { artifactName, artifactServiceMissing, uploadArtifact, wantsArtifact } from '../io/artifact.js'
import { actionsStateStore, actionsStore, claimActionsState, StateRecordError, type LedgerRecord } from '../io/ledger-store.js'
import { RUNTIME_NAMES } from '../runtimes/index.js'
import { actionsReporter } from '../io/reporter.js'

/**
 * The ledger goes to the Actions state (this job's post step) and to the host's root-owned
 * file (paths.ledgerFile), the one the command line uses, for a later run on a self-hosted
 * runner (on-existing) or `down` by hand. Cleanup that undoes everything removes the file;
 * one that is off or incomplete leaves it, with what is still to undo.
 */
function actionsEnv(paths: Paths, cache: CacheBackend): CommandEnv {
  const run = createRun()
  const hostLedgerFile = paths.ledgerFile
  const hostLedger = hostLedgerStore({ file: hostLedgerFile, run, paths, home: home(), known: known() })
  return { paths, run, services: systemd(run), io: actionsReporter(), store: actionsStore(hostLedger, (m) => core.warning(m), stateSchema(paths, cache)), hostLedger, hostLedgerFile, where: 'actions', cache, startedAt: 0 }
}

const home = (): string => process.env.HOME || homedir()
const known = (): StateRecordOptions['known'] => ({ runtimes: RUNTIME_NAMES, cnis: Object.keys(CNIS), addons: ADDONS.map((a) => a.input) })
/** The Actions state's record, read as the host's ledger is: this host's paths, its roots, and the cache's own directory. */
const stateSchema = (paths: Paths, cache: CacheBackend) => (raw: unknown) => parseStateRecord(raw, { paths, home: home(), known: known(), cacheDir: cache.workDir })

/** `paths`: where the host's files are, and `cache` where entries live; tests put both in a temporary tree. */
export async function actionMain(paths: Paths = HOST_PATHS, cache: CacheBackend = actionsCache()): Promise<void> {
  try {
    // before anything else: the post step then reads main's head and count, never ones an
    // earlier step put in the job's environment
    claimActionsState()
    // masked before anything could print them: the log shows *** wherever they appear
    const token = core.getInput('github-token')
    if (token !== '') core.setSecret(token)
    const mask = (s: string): void => core.setSecret(s)
    // a kubeadm-config file is read here, not later in prepare, so that its tokens are masked
    // before the first line of the run is written, as inline ones are
    const config = await readKubeadmConfigFile(parseInputs((name) => core.getInput(name), { secret: mask }), undefined, undefined, mask)
    const env = actionsEnv(paths, cache)
    if (config.dryRun) {
      await plan(config, env, config.planDir)
    } else {
      if (config.planDir) core.warning(`plan-dir (${config.planDir}) is only written with dry-run: true; this run changes the host and writes no plan tree.`)
      await up(config, env)
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    core.setFailed(err instanceof InputError ? `${message}\nNothing on this host was changed.` : message)
  }
}

/**
 * diagnostics-artifact: the archive (src/commands/collect.ts) in RUNNER_TEMP, uploaded, then
 * removed. Whatever goes wrong is a warning: the post step still cleans up.
 */
async function uploadDiagnostics(record: LedgerRecord, env: CommandEnv, diagnosis: Diagnosis | undefined): Promise<void> {
  const name = artifactName()
  const missing = artifactServiceMissing()
  if (missing) return void core.warning(`The diagnostics archive is not uploaded: ${missing}.`)
  let archive: string | undefined
  try {
    const secrets = inputSecrets((n) => core.getInput(n))
    // a run that did not fail was not diagnosed: the probes run now, for the archive alone
    archive = await collectArchive(record, env, diagnosis ?? (await examine(record, env)), { outDir: process.env.RUNNER_TEMP || tmpdir(), name, secrets })
    const r = await uploadArtifact(name, archive)
    if (r.ok) core.info(`Diagnostics uploaded as the artifact ${name}${r.id === undefined ? '' : ` (id ${r.id}, ${r.size ?? 0} bytes)`}: ${basename(archive)} inside, secrets redacted.`)
    else core.warning(`The diagnostics archive could not be uploaded as the artifact ${name}: ${r.error}`)
  } catch (err) {
    core.warning(`The diagnostics archive could not be made: ${(err as Error).message}`)
  } finally {
    if (archive) await rm(archive, { force: true })
  }
}

/**
 * `paths`: this host's layout (a test's temporary tree); the record must name the same. A
 * record that fails its schema is refused whole: nothing in it runs, as root or otherwise.
 */
export async function actionPost(cache: CacheBackend = actionsCache(), paths: Paths = HOST_PATHS): Promise<void> {
  try {
    // this job's own record, from the Actions state, checked as the host's ledger is
    let record: LedgerRecord | undefined
    try {
      record = await actionsStateStore(stateSchema(paths, cache)).load()
    } catch (err) {
      const why = err instanceof StateRecordError ? err.message.replace(/^The run record in the Actions state /, '') : `does not hold a record this action writes: ${(err as Error).message}`
      core.error(
        `The post step refused the run record in the Actions state: it ${why}. Nothing was diagnosed, saved, uploaded or undone. ` +
          `The runner hands this step STATE_kubeadm-single-node* variables, and a step before it can add them through GITHUB_ENV: look for one that does, and remove it. ` +
          `What the main step changed on this host is also in ${paths.ledgerFile} (root's): undo it with \`node dist/cli.js down\` from the action's folder, or with a later run's on-existing: reset.`,
        { title: 'kubeadm-single-node post step' }
      )
      return
    }
    if (!record) {
      core.info('Nothing to diagnose or clean up: the main step changed nothing on this host.')
      return
    }
    const env = actionsEnv(paths, cache)
    // no failure recorded and no finish either: the job was cancelled or timed out mid-way
    if (!record.failed && !record.finished) record.failed = { message: 'The main step did not finish: the job was cancelled or timed out while it ran.' }
    const diagnosis = record.failed ? await diagnose(record, env) : undefined
    // before cleanup: the export needs the runtime that holds the images
    if (!record.failed) await saveCache(record, env)
    // before cleanup too: the archive reads the cluster, the journals and the files it wrote
    if (wantsArtifact(record.diagnosticsArtifact, record.failed !== undefined)) await uploadDiagnostics(record, env, diagnosis)
    if (record.cleanup) await down(record, env)
    else if (record.changes.length > 0) core.info(`Cleanup is off (cleanup: auto on a hosted runner, or false): the ${record.changes.length} host changes stay for the rest of the job.`)
  } catch (err) {
    core.warning(`The post step could not finish: ${(err as Error).message}`)
  }
}
