// addons: what the inputs turn on beside the cluster (src/addons), each add-on's own steps.
import { enabledAddons } from '../addons/index.js'
import type { Step, StepId } from '../engine/step.js'
import type { PlanContext } from './context.js'

/** `earlier`: the plan's steps of the phases before this one, which an add-on's steps may need where the plan has them. */
export function addonSteps(p: PlanContext, earlier: readonly Step[]): Step[] {
  const planned = new Set<StepId>(earlier.map((s) => s.id))
  return enabledAddons(p.config).flatMap((a) => a.steps(p, planned))
}

/** What the add-ons refuse on this host and with this plan, before anything changes. */
export function addonProblems(p: PlanContext, earlier: readonly Step[]): string[] {
  const planned = new Set<StepId>(earlier.map((s) => s.id))
  return enabledAddons(p.config).flatMap((a) => a.problems?.(p, planned) ?? [])
}
