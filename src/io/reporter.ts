// How a command reports: to the Actions log (one group per phase, annotations, outputs, the
// job summary) or to a terminal (each step as it ends, with its time). The commands speak
// only to this interface, so the action and the command line share them.
import * as core from '@actions/core'
import { PHASES, type Phase, type Step, type StepTiming } from '../engine/step.js'
import type { StepSummary } from './summary.js'
import { writeSummary } from './summary.js'

export interface Reporter {
  info(message: string): void
  warning(message: string, title?: string): void
  /** a titled block of lines: a log group in Actions, a heading in a terminal */
  block(title: string, lines: string[]): void
  /** the steps about to run, before the first one starts */
  start(steps: readonly Step[]): void
  /** a step begins (steps overlap: several may be running) */
  stepStarted?(step: Step): void
  stepEnded(step: Step, timing: StepTiming, lines: string[], error?: unknown): void
  /** the run is over: print what is still buffered */
  flush(): void
  setOutput(name: string, value: string): void
  exportVariable(name: string, value: string): void
  addPath(dir: string): void
  summary(s: StepSummary): Promise<void>
}

const took = (t: StepTiming): string => `${(t.end - t.start).toFixed(1)}s`

/** The Actions log: a live line per step, and each phase's detail as one group when its last step ends. */
export function actionsReporter(): Reporter {
  const left = new Map<Phase, number>()
  const lines = new Map<Phase, string[]>()
  const starts = new Map<Phase, number>()
  const flushPhase = (phase: Phase, seconds?: number): void => {
    const buf = lines.get(phase)
    if (!buf) return
    lines.delete(phase)
    core.startGroup(`${phase}${seconds === undefined ? '' : ` (${seconds.toFixed(1)}s)`}`)
    for (const l of buf) core.info(l)
    core.endGroup()
  }
  return {
    info: (m) => core.info(m),
    warning: (m, title) => core.warning(m, title ? { title } : undefined),
    block(title, body) {
      core.startGroup(title)
      for (const l of body) core.info(l)
      core.endGroup()
    },
    start(steps) {
      for (const s of steps) left.set(s.phase, (left.get(s.phase) ?? 0) + 1)
    },
    stepEnded(step, t, stepLines, error) {
      const buf = lines.get(step.phase) ?? []
      buf.push(`── ${step.id}: ${step.title} ${error ? 'FAILED' : 'done'} in ${took(t)}`, ...stepLines.map((l) => `   ${l}`))
      lines.set(step.phase, buf)
      starts.set(step.phase, Math.min(starts.get(step.phase) ?? t.start, t.start))
      core.info(`${error ? '✗' : '✓'} [${step.phase}] ${step.title} (${took(t)})`)
      const n = (left.get(step.phase) ?? 1) - 1
      left.set(step.phase, n)
      if (n === 0) flushPhase(step.phase, t.end - (starts.get(step.phase) ?? t.start))
    },
    flush() {
      for (const p of PHASES) flushPhase(p)
    },
    setOutput: (n, v) => core.setOutput(n, v),
    exportVariable: (n, v) => core.exportVariable(n, v),
    addPath: (d) => core.addPath(d),
    summary: (s) => writeSummary(s)
  }
}

/**
 * A terminal: each step as it starts and as it ends, with the run's clock on the left and
 * the step's own time, each phase's total once its last step ends; a step's detail when it
 * failed or when asked for (--verbose). Steps overlap, so their lines interleave.
 */
export function terminalReporter(out: NodeJS.WritableStream = process.stderr, verbose = false, now: () => number = () => performance.now()): Reporter {
  const write = (l: string): void => void out.write(`${l}\n`)
  let t0 = now()
  let total = 0
  let begun = 0
  const left = new Map<Phase, number>()
  const phaseStart = new Map<Phase, number>()
  const clock = (): string => `${((now() - t0) / 1000).toFixed(1).padStart(6)}s`
  return {
    info: write,
    warning: (m, title) => write(`warning${title ? ` (${title})` : ''}: ${m}`),
    block(title, body) {
      write(`== ${title}`)
      for (const l of body) write(l)
    },
    start(steps) {
      t0 = now()
      total = steps.length
      for (const s of steps) left.set(s.phase, (left.get(s.phase) ?? 0) + 1)
      write(`${steps.length} steps in ${left.size} phases (${[...left.keys()].join(', ')}); independent steps run at the same time`)
    },
    stepStarted(step) {
      begun++
      if (!phaseStart.has(step.phase)) phaseStart.set(step.phase, now())
      write(`${clock()}  → [${String(begun).padStart(String(total).length)}/${total}] ${step.phase}: ${step.title}`)
    },
    stepEnded(step, t, lines, error) {
      write(`${clock()}  ${error ? '✗' : '✓'} ${step.phase}: ${step.title} (${took(t)}${error ? ', FAILED' : ''})`)
      if (error || verbose) for (const l of lines) write(`           ${l}`)
      const n = (left.get(step.phase) ?? 1) - 1
      left.set(step.phase, n)
      if (n === 0 && !error) write(`${clock()}  ── ${step.phase} done in ${((now() - (phaseStart.get(step.phase) ?? t0)) / 1000).toFixed(1)}s`)
    },
    flush: () => {},
    setOutput: (n, v) => write(`${n}: ${v}`),
    exportVariable: (n, v) => write(`export ${n}=${v}`),
    addPath: () => {},
    summary: async () => {}
  }
}
