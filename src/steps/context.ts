// What every phase's steps are built from: the inputs, the host's facts, and the names
// derived from them once (binary paths, the action's own files, the downloads).
import { join } from 'node:path'
import type { Artifact } from '../download.js'
import type { Config } from '../inputs.js'
import type { Paths } from '../paths.js'
import type { HostFacts } from '../probe.js'
import type { RunState } from '../state.js'
import { artifacts } from './artifacts.js'

export interface PlanInput {
  config: Config
  facts: HostFacts
  /** resolved, vX.Y.Z */
  version: string
  paths: Paths
}

export interface PlanContext extends PlanInput {
  state: RunState
  /** warnings worth a line in the log and the summary */
  notes: string[]
  criSocket: string
  bin: (name: string) => string
  files: { kubeadmConfig: string; cniManifest: string; smokeManifest: string; kubeconfig: string }
  kubeEnv: Record<string, string>
  arts: Record<'kubeadm' | 'kubelet' | 'kubectl' | 'crictl' | 'cni', Artifact>
  /** the smoke test runs: asked for, and a CNI to carry it */
  smokeTest: boolean
}

export function planContext(input: PlanInput, state: RunState): PlanContext {
  const { config, facts, version, paths } = input
  // A kubeconfig the user already has (a self-hosted runner's) is never overwritten.
  const kubeconfig = join(facts.user.home, '.kube', facts.kubeconfigExists ? 'kubeadm-single-node.config' : 'config')
  const notes = facts.kubeconfigExists ? [`~/.kube/config already exists and is left alone; this cluster's kubeconfig is ${kubeconfig} (KUBECONFIG points at it).`] : []
  return {
    ...input,
    state,
    notes,
    criSocket: `unix://${paths.containerdSocket}`,
    bin: (name) => join(paths.binDir, name),
    files: {
      kubeadmConfig: join(paths.stateDir, 'kubeadm.yaml'),
      cniManifest: join(paths.stateDir, 'cni.yaml'),
      smokeManifest: join(paths.stateDir, 'smoke.yaml'),
      kubeconfig
    },
    kubeEnv: { KUBECONFIG: kubeconfig },
    arts: artifacts(config, version, facts.arch),
    smokeTest: config.smokeTest && config.cni !== 'none'
  }
}
