// plan (the dry run): every command and file, in order, changing nothing on the host.
import type { Config } from '../config/inputs.js'
import { planTreeProblem, renderPlan, writePlanTree } from '../engine/describe.js'
import { InputError } from '../config/inputs.js'
import { preflight } from '../phases/preflight.js'
import { timingsJson } from '../io/summary.js'
import type { CommandEnv } from './env.js'
import { describeExisting, findExisting, ledgerProblems } from './existing.js'
import { headline, prepare } from './prepare.js'

/** `out`: a directory for the plan tree (plan-dir, or the command line's --out). */
export async function plan(config: Config, env: CommandEnv, out: string | undefined, input = 'plan-dir'): Promise<void> {
  const t0 = performance.now()
  const prepared = await prepare(config, env.run, env.paths, undefined, env.cache)
  const { version, facts, plan } = prepared
  const { io } = env
  io.info(headline(prepared))
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
  if (out) {
    const written = await writePlanTree(plan.steps, plan.learned, out)
    io.info(`Wrote the plan and ${written.length} files under ${out}`)
  }
  io.setOutput('timings', JSON.stringify(timingsJson([], (performance.now() - t0) / 1000)))
  await io.summary({ kind: 'plan', text })
}
