// network: the chosen CNI's plug-in owns this phase.
import type { Step } from '../engine/step.js'
import type { PlanContext } from './context.js'

export function networkSteps(p: PlanContext): Step[] {
  return p.cni.networkSteps(p)
}
