// addons: what the inputs turn on beside the cluster (src/addons), each add-on's own steps.
import { enabledAddons } from '../addons/index.js'
import type { Step } from '../engine/step.js'
import type { PlanContext } from './context.js'

export function addonSteps(p: PlanContext): Step[] {
  return enabledAddons(p.config).flatMap((a) => a.steps(p))
}
