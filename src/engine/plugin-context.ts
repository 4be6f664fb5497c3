// What a runtime driver or a CNI plug-in is handed to build its steps: the names the plan
// derives once, and nothing of the phases themselves. Kept here, below the plug-ins, so that
// they never import the phases that call them.
import type { Config } from '../config/inputs.js'
import type { DownloadCache } from '../host/download.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'
import type { Learned } from './learned.js'

export interface PluginContext {
  config: Config
  facts: HostFacts
  /** resolved, vX.Y.Z */
  version: string
  paths: Paths
  /** seeded with predictions; the run fills in what it learns */
  learned: Learned
  /** warnings worth a line in the log and the summary */
  notes: string[]
  /** the CRI endpoint kubeadm, the kubelet and crictl use */
  criSocket: string
  bin: (name: string) => string
  files: { kubeadmConfig: string; cniManifest: string; smokeManifest: string; kubeconfig: string }
  kubeEnv: Record<string, string>
  /**
   * Registries on this host's loopback, as image references name them (localhost:5000), that
   * the add-ons run and the runtime pulls from over plain HTTP, each on its own: the runtime
   * configures that host alone, never plain HTTP for others.
   */
  loopbackRegistries: readonly string[]
  /** kept downloads, when the cache input is on and entries can be kept here */
  cache?: DownloadCache
}
