// The host steps as a plan with explicit dependencies: independent steps run at the same
// time, every step is timed, and a dry run prints (or writes out) exactly what would change.
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Host } from './host/host.js'
import { displayArgv } from './host/exec.js'
import type { RunState } from './state.js'

export const PHASES = ['host', 'binaries', 'runtime', 'images', 'init', 'network', 'ready', 'smoke'] as const
export type Phase = (typeof PHASES)[number]

export interface StepContext {
  host: Host
  state: RunState
  /** a line for this step's log group */
  log: (line: string) => void
}

export type Op =
  | { kind: 'exec'; argv: string[]; privileged?: boolean; env?: Record<string, string>; allowFailure?: boolean }
  /** content is rendered when the op runs, from what earlier steps learned (kubeadm's image list, say) */
  | { kind: 'write'; path: string; mode?: number; render: (state: RunState) => string }
  | { kind: 'service'; action: 'reload' | 'enable' | 'restart'; unit?: string }
  /** work that reads results as it goes (downloads, waits); `shows` is what a dry run prints */
  | { kind: 'task'; title: string; shows: string[]; run: (ctx: StepContext) => Promise<void> }

export interface Step {
  id: string
  phase: Phase
  title: string
  needs: string[]
  ops: Op[]
}

export interface StepTiming {
  id: string
  phase: Phase
  /** seconds since the plan started */
  start: number
  end: number
}

export class StepError extends Error {
  constructor(
    readonly step: Step,
    cause: unknown
  ) {
    super(`${step.phase}: ${step.title} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'StepError'
  }
}

/** Dependency order, ties broken by plan order; throws on unknown needs or cycles. */
export function orderSteps(steps: readonly Step[]): Step[] {
  const byId = new Map(steps.map((s) => [s.id, s]))
  for (const s of steps) {
    for (const n of s.needs) if (!byId.has(n)) throw new Error(`step ${s.id} needs unknown step ${n}`)
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
      ctx.log(`$ ${displayArgv(op.argv)}`)
      const res = await host.run(op.argv, { privileged: op.privileged, env: op.env, allowFailure: op.allowFailure })
      const out = (res.stdout + res.stderr).trim()
      if (out) ctx.log(out.split('\n').slice(-15).join('\n'))
      return
    }
    case 'write': {
      ctx.log(`write ${op.path}`)
      await host.writeFile(op.path, op.render(ctx.state), op.mode)
      return
    }
    case 'service': {
      ctx.log(`service ${op.action}${op.unit ? ` ${op.unit}` : ''}`)
      if (op.action === 'reload') await host.services.reload()
      else await host.services[op.action](op.unit ?? '')
      return
    }
    case 'task':
      ctx.log(op.title)
      await op.run(ctx)
      return
  }
}

export interface RunHooks {
  onStart?: (step: Step) => void
  onEnd?: (step: Step, timing: StepTiming, lines: string[], error?: unknown) => void
}

/**
 * Runs every step as soon as all it needs is done. After the first failure no new step
 * starts; running ones finish, and the first error is thrown with its step.
 */
export async function runPlan(steps: readonly Step[], base: Omit<StepContext, 'log'>, hooks: RunHooks = {}): Promise<StepTiming[]> {
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
          void execute(step)
        }
      }
      if (running === 0) {
        if (failure) reject(failure)
        else if (done.size < steps.length) reject(new Error('the plan stalled: some steps never became ready'))
        else resolve(timings)
      }
    }
    const execute = async (step: Step): Promise<void> => {
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

export function describeOp(op: Op, state: RunState): string[] {
  switch (op.kind) {
    case 'exec':
      return [`$ ${op.privileged ? 'sudo ' : ''}${op.env ? Object.entries(op.env).map(([k, v]) => `${k}=${v} `).join('') : ''}${displayArgv(op.argv)}${op.allowFailure ? '   (may fail)' : ''}`]
    case 'write': {
      const content = op.render(state)
      return [`write ${op.path} (mode ${(op.mode ?? 0o644).toString(8)}, ${Buffer.byteLength(content)} bytes)`, ...content.trimEnd().split('\n').map((l) => `    | ${l}`)]
    }
    case 'service':
      return [op.action === 'reload' ? '$ sudo systemctl daemon-reload' : `$ sudo systemctl ${op.action} ${op.unit}`]
    case 'task':
      return [`# ${op.title}`, ...op.shows.map((s) => `  ${s}`)]
  }
}

/** The whole plan in dependency order, as a dry run prints it. */
export function renderPlan(steps: readonly Step[], state: RunState): string {
  const lines: string[] = []
  orderSteps(steps).forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(2)}. [${step.phase}] ${step.id}: ${step.title}${step.needs.length ? `  (after ${step.needs.join(', ')})` : ''}`)
    for (const op of step.ops) lines.push(...describeOp(op, state).map((l) => `      ${l}`))
  })
  return `${lines.join('\n')}\n`
}

/**
 * Writes every file the plan would write at its host path under `root`, beside plan.txt
 * (the ordered listing) and plan.json (steps, needs and operations, for tools).
 */
export async function writePlanTree(steps: readonly Step[], state: RunState, root: string): Promise<string[]> {
  const written: string[] = []
  for (const step of orderSteps(steps)) {
    for (const op of step.ops) {
      if (op.kind !== 'write') continue
      const dest = join(root, op.path)
      await mkdir(dirname(dest), { recursive: true })
      await writeFile(dest, op.render(state), { mode: op.mode ?? 0o644 })
      written.push(op.path)
    }
  }
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'plan.txt'), renderPlan(steps, state))
  const json = orderSteps(steps).map((s) => ({
    id: s.id,
    phase: s.phase,
    title: s.title,
    needs: s.needs,
    ops: s.ops.map((op) =>
      op.kind === 'write'
        ? { kind: op.kind, path: op.path, mode: (op.mode ?? 0o644).toString(8) }
        : op.kind === 'task'
          ? { kind: op.kind, title: op.title, shows: op.shows }
          : op
    )
  }))
  await writeFile(join(root, 'plan.json'), `${JSON.stringify(json, null, 2)}\n`)
  return written
}
