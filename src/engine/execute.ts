// The executor: every step runs as soon as all it needs is done, so independent work
// overlaps; every step is timed; the first failure stops new steps from starting.
import { PHASES, StepError, type Op, type Phase, type Step, type StepContext, type StepTiming } from './step.js'

/** Dependency order, ties broken by plan order; throws on unknown needs or cycles. */
export function orderSteps(steps: readonly Step[]): Step[] {
  const ids = new Set(steps.map((s) => s.id))
  for (const s of steps) {
    for (const n of s.needs) if (!ids.has(n)) throw new Error(`step ${s.id} needs unknown step ${n}`)
  }
  const done = new Set<string>()
  const out: Step[] = []
  while (out.length < steps.length) {
    const next = steps.find((s) => !done.has(s.id) && s.needs.every((n) => done.has(n)))
    if (!next) throw new Error(`the plan has a dependency cycle among: ${steps.filter((s) => !done.has(s.id)).map((s) => s.id).join(', ')}`)
    done.add(next.id)
    out.push(next)
  }
  return out
}

export async function runOp(op: Op, ctx: StepContext): Promise<void> {
  const { host } = ctx
  switch (op.kind) {
    case 'exec': {
      const res = await host.run(op.argv, { privileged: op.privileged, env: op.env })
      const out = (res.stdout + res.stderr).trim()
      if (out) ctx.log(out.split('\n').slice(-15).join('\n'))
      return
    }
    case 'write':
      ctx.log(`write ${op.path}`)
      await host.writeFile(op.path, (op.reveal ?? op.render)(ctx.learned), { mode: op.mode })
      return
    case 'service':
      ctx.log(`systemctl ${op.action}${op.unit ? ` ${op.unit}` : ''}`)
      await host.services.act(op.action, op.unit)
      return
    case 'task':
      ctx.log(op.title)
      await op.run(ctx)
      return
  }
}

export interface ExecuteHooks {
  onStart?: (step: Step) => void
  onEnd?: (step: Step, timing: StepTiming, lines: string[], error?: unknown) => void
}

/**
 * Runs every step as soon as all it needs is done. After the first failure no new step
 * starts; running ones finish, and the first error is thrown with its step.
 */
export async function execute(steps: readonly Step[], base: Omit<StepContext, 'log'>, hooks: ExecuteHooks = {}): Promise<StepTiming[]> {
  orderSteps(steps) // validates needs and cycles before anything runs
  const t0 = performance.now()
  const timings: StepTiming[] = []
  const done = new Set<string>()
  const started = new Set<string>()
  let failure: StepError | undefined

  return new Promise((resolve, reject) => {
    let running = 0
    const launch = (): void => {
      if (!failure) {
        for (const step of steps) {
          if (started.has(step.id) || !step.needs.every((n) => done.has(n))) continue
          started.add(step.id)
          running++
          void run(step)
        }
      }
      if (running === 0) {
        if (failure) reject(failure)
        else if (done.size < steps.length) reject(new Error('the plan stalled: some steps never became ready'))
        else resolve(timings)
      }
    }
    const run = async (step: Step): Promise<void> => {
      const lines: string[] = []
      const ctx: StepContext = { ...base, log: (l) => lines.push(l) }
      const start = (performance.now() - t0) / 1000
      hooks.onStart?.(step)
      let error: unknown
      try {
        for (const op of step.ops) await runOp(op, ctx)
        done.add(step.id)
      } catch (err) {
        error = err
        failure ??= new StepError(step, err)
      }
      const timing = { id: step.id, phase: step.phase, start, end: (performance.now() - t0) / 1000 }
      timings.push(timing)
      hooks.onEnd?.(step, timing, lines, error)
      running--
      launch()
    }
    launch()
  })
}

/** Seconds per phase: from its first step's start to its last step's end. */
export function phaseTimings(timings: readonly StepTiming[]): Array<{ phase: Phase; start: number; seconds: number }> {
  const out: Array<{ phase: Phase; start: number; seconds: number }> = []
  for (const phase of PHASES) {
    const ts = timings.filter((t) => t.phase === phase)
    if (ts.length === 0) continue
    const start = Math.min(...ts.map((t) => t.start))
    const end = Math.max(...ts.map((t) => t.end))
    out.push({ phase, start, seconds: end - start })
  }
  return out
}
