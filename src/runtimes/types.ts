// A container runtime driver: everything the action does that depends on which runtime the
// kubelet talks to. One folder per runtime, one line in ./index.ts.
import type { Learned } from '../engine/learned.js'
import type { Hint, Probe } from '../engine/diagnostics.js'
import type { Step } from '../engine/step.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'
import type { ImageStore } from '../images/store.js'
import type { PlanContext } from '../phases/context.js'

export interface RuntimeDriver {
  /** the CRI endpoint kubeadm, the kubelet and crictl use */
  criSocket(paths: Paths): string
  /** what this host lacks for this Kubernetes version, found before anything changes */
  problems(facts: HostFacts, version: string): string[]
  /** one line for logs and the summary */
  describe(facts: HostFacts): string
  /** the runtime phase: install where missing, configure, restart, wait until CRI answers (`runtime.ready`) */
  steps(p: PlanContext): Step[]
  /** where preloaded images go: the store the CRI serves */
  imageStore(run: Run, paths: Paths): ImageStore
  /** the commands imageStore runs, for the dry run */
  imageCommands(paths: Paths, learned: Learned): { list(): string[]; pull(ref: string): string[]; importArchive(path: string): string[] }
  diagnostics(paths: Paths): Probe[]
  hints: readonly Hint[]
}
