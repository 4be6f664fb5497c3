// The action's plan: every host step, what it needs first, and what it does, one module
// per phase under steps/. Pure: the same config and host facts always give the same plan,
// which is what the dry run prints and what the run executes.
import { CONTAINERD_2_REQUIRED_MINOR, FLANNEL } from './defaults.js'
import { predictKubeadmImages } from './images.js'
import type { Config } from './inputs.js'
import type { Step } from './plan.js'
import type { HostFacts } from './probe.js'
import type { RunState } from './state.js'
import { binarySteps } from './steps/binaries.js'
import { clusterSteps } from './steps/cluster.js'
import { planContext, type PlanInput } from './steps/context.js'
import { hostSteps } from './steps/host.js'
import { imageSteps } from './steps/images.js'
import { runtimeSteps } from './steps/runtime.js'
import { smokeSteps } from './steps/smoke.js'
import { minorOf } from './versions.js'

export { artifacts } from './steps/artifacts.js'
export { flannelManifestSource, pullEndpoints } from './steps/images.js'
export type { PlanInput } from './steps/context.js'

export interface Plan {
  steps: Step[]
  state: RunState
  /** where the runner user's kubeconfig will be */
  kubeconfig: string
  /** warnings worth a line in the log and the summary */
  notes: string[]
}

export function seedState(config: Config, version: string, containerdMajor?: number): RunState {
  const predicted = predictKubeadmImages(version, config.imageRepository)
  return {
    version,
    containerdMajor,
    // a minor the table lacks: kubeadm names its images at run time, the dry run says so
    kubeadmImages: predicted ?? [],
    cniImages: config.cni === 'flannel' && !config.cniManifest ? [...FLANNEL.images] : []
  }
}

/** Problems with this host that stop the plan before it changes anything. */
export function hostProblems(config: Config, facts: HostFacts, version: string): string[] {
  const problems: string[] = []
  if (facts.existingCluster) {
    problems.push('A cluster from an earlier run is still on this host (/etc/kubernetes/admin.conf exists). Run `sudo kubeadm reset --force` first, or give the earlier run cleanup: true.')
  }
  const dockerMirrors = config.registryMirrors.some((m) => m.registry === 'docker.io')
  if (dockerMirrors && facts.daemonJsonExists && facts.daemonJson === undefined) {
    problems.push("Docker's daemon.json is not valid JSON, so the docker.io mirrors cannot be merged into it. Fix the file, or leave docker.io out of registry-mirrors.")
  }
  if (facts.cpus < 2) problems.push(`kubeadm needs at least 2 CPUs; this runner has ${facts.cpus}.`)
  if (facts.containerd && facts.containerd.major < 2 && minorOf(version) >= CONTAINERD_2_REQUIRED_MINOR) {
    problems.push(
      `Kubernetes ${version} supports containerd 2.2 or newer, but this host has containerd ${facts.containerd.version}. Upgrade containerd (Docker's containerd.io package) or choose kubernetes-version 1.35.`
    )
  }
  return problems
}

export function buildPlan(input: PlanInput): Plan {
  const p = planContext(input, seedState(input.config, input.version, input.facts.containerd?.major))
  if (input.config.smokeTest && !p.smokeTest) p.notes.push("smoke-test skipped: with cni 'none' no pod network exists for nginx until you install one.")
  const host = hostSteps(p)
  const steps = [
    ...host,
    ...binarySteps(p),
    ...runtimeSteps(p),
    ...imageSteps(p),
    ...clusterSteps(p, host.map((s) => s.id)),
    ...smokeSteps(p)
  ]
  return { steps, state: p.state, notes: p.notes, kubeconfig: p.files.kubeconfig }
}
