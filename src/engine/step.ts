// What a plan is made of. Steps are data: an id, the phase it belongs to, the steps it
// needs, and its operations. The executor runs them; the dry run describes them.
import type { Host } from '../host/host.js'
import type { ServiceAction } from '../host/services.js'
import type { Learned } from './learned.js'

/**
 * The phases, in the order they run, like kubeadm's own init phases. A step may only need
 * steps of its own phase or an earlier one (a test holds the plan to that).
 */
export const PHASES = ['cache', 'host', 'binaries', 'config', 'runtime', 'images', 'init', 'network', 'addons', 'ready', 'smoke'] as const
export type Phase = (typeof PHASES)[number]

/**
 * A step's id names its phase first (`runtime.configure`), so that the two cannot disagree.
 * The generic phases and each runtime or CNI name their own steps; building the plan checks
 * that every `needs` names a step of the plan (orderSteps).
 */
export type StepId = `${Phase}.${string}`

export function phaseOf(id: StepId): Phase {
  return id.slice(0, id.indexOf('.')) as Phase
}

export interface StepContext {
  host: Host
  learned: Learned
  /** a line for this step's log group */
  log: (line: string) => void
  /** something the user should see even when the run succeeds (an annotation in Actions) */
  warn?: (message: string) => void
}

export type Op =
  /** a command with no lasting effect on the host (queries, kubectl against the cluster) */
  | { kind: 'exec'; argv: string[]; privileged?: boolean; env?: Record<string, string> }
  /** a file, recorded in the ledger before it is written; rendered from what earlier steps learned */
  | {
      kind: 'write'
      path: string
      mode?: number
      /** the file as the plan shows it: a secret in it as a placeholder */
      render: (learned: Learned) => string
      /** for a file holding secrets: the file as it is written, secrets and all; only the run calls it */
      reveal?: (learned: Learned) => string
      /** values the dry run's listing shows as *** (the file keeps them) */
      redact?: readonly string[]
    }
  /** a unit: recorded in the ledger, so that cleanup puts its state back */
  | { kind: 'service'; action: ServiceAction; unit?: string }
  /** work that reads results as it goes (downloads, waits); `shows` is what a dry run prints */
  | {
      kind: 'task'
      title: string
      shows: string[]
      run: (ctx: StepContext) => Promise<void>
      /**
       * Files the task writes, as the plan tree shows them: what it can know before the run (a
       * merge with a file the host has, or a download, is only known then: `render` says so)
       */
      writes?: Array<{ path: string; mode?: number; render: (learned: Learned) => string }>
    }

export interface Step {
  id: StepId
  phase: Phase
  title: string
  needs: StepId[]
  ops: Op[]
}

/** A step whose phase is read off its id, so the two cannot disagree. */
export function step(id: StepId, title: string, needs: StepId[], ops: Op[]): Step {
  return { id, phase: phaseOf(id), title, needs, ops }
}

export interface StepTiming {
  id: StepId
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
