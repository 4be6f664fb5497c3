// plan (the dry run): every command and file, in order, changing nothing on the host.
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Config } from '../config/inputs.js'
import { planTreeProblem, renderPlan, writePlanTree } from '../engine/describe.js'
import { InputError } from '../config/inputs.js'
import { preflight } from '../preflight/preflight.js'
import { describeArtifact } from '../io/artifact.js'
import { timingsJson } from '../io/summary.js'
import type { CommandEnv } from './env.js'
import { describeExisting, findExisting, ledgerProblems } from './existing.js'
import { headline, prepare } from './prepare.js'

/**
 * Why the plan tree cannot be written at `out`, or undefined: it must be a directory this user
 * can write in, or a path under one where the missing directories can be made. Asked before
 * anything is probed or printed, so that a bad plan-dir costs nothing.
 */
export async function planDirProblem(out: string): Promise<string | undefined> {
  const writable = (p: string): Promise<boolean> => access(p, constants.W_OK | constants.X_OK).then(() => true, () => false)
  let at = resolve(out)
  for (;;) {
    // ENOTDIR: a file on the way, found as the loop climbs to it
    const st = await stat(at).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? undefined : err))
    if (st instanceof Error) return `where ${at} cannot be read (${st.code ?? st.message})`
    if (st) {
      const own = at === resolve(out)
      if (!st.isDirectory()) return own ? 'which is not a directory' : `whose ${at} is not a directory, so it cannot be made`
      if (!(await writable(at))) return own ? 'a directory this user cannot write in' : `which does not exist, and this user cannot make it in ${at}`
      return undefined
    }
    if (dirname(at) === at) return undefined
    at = dirname(at)
  }
}

/** `out`: a directory for the plan tree (plan-dir, or the command line's --out). */
export async function plan(config: Config, env: CommandEnv, out: string | undefined, input = 'plan-dir'): Promise<void> {
  const t0 = performance.now()
  if (out !== undefined) {
    // the live system's root first: for a user who cannot write there, that is the news
    const root = await planTreeProblem(out, [])
    if (root) throw new InputError([`Input '${input}' has the value ${JSON.stringify(out)}, where ${root}; accepted: a directory apart from the live system, such as /tmp/plan.`])
    const why = await planDirProblem(out)
    if (why) throw new InputError([`Input '${input}' has the value ${JSON.stringify(out)}, ${why}; accepted: a directory this user can write in, or a path where one can be made, such as /tmp/plan.`])
  }
  const prepared = await prepare(config, env.run, env.paths, undefined, env.cache)
  const { version, facts, plan } = prepared
  const { io } = env
  io.info(headline(prepared, env.where))
  io.setOutput('kubernetes-version', version)
  for (const n of plan.notes) io.warning(n)
  const existing = await findExisting(facts, env)
  const already = describeExisting(config, existing, env.paths, env.hostLedgerFile)
  if (already.length) io.block('Already on this host (on-existing)', already)
  const problems = [...ledgerProblems(config, existing, env.hostLedgerFile, env.where), ...(await preflight(config, facts, env.paths, plan, version, env.run))]
  for (const p of problems) io.warning(`A real run would stop here: ${p}`)
  if (out) {
    // refused before anything is written: a plan tree on the live system would be a run
    const why = await planTreeProblem(out, plan.steps)
    if (why) throw new InputError([`Input '${input}' has the value ${JSON.stringify(out)}, where ${why}; accepted: a directory apart from the live system, such as /tmp/plan.`])
  }
  const text = renderPlan(plan.steps, plan.learned)
  io.block('Plan (dry run: nothing on this host is changed)', text.trimEnd().split('\n'))
  // the post step's own part: a dry run records nothing, so its post step does nothing
  if (env.where === 'actions') io.info(describeArtifact(config.diagnosticsArtifact))
  if (out) {
    const written = await writePlanTree(plan.steps, plan.learned, out)
    io.info(`Wrote the plan and ${written.length} files under ${out}`)
  }
  io.setOutput('timings', JSON.stringify(timingsJson([], (performance.now() - t0) / 1000)))
  await io.summary({ kind: 'plan', text })
}
