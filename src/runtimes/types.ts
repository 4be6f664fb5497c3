// A container runtime driver: everything the action does that depends on which runtime the
// kubelet talks to. One folder per runtime, one line in ./index.ts.
import type { RegistryCredential, RegistryMirror } from '../config/inputs.js'
import type { Learned } from '../engine/learned.js'
import type { Hint, Journal, Probe } from '../engine/diagnostics.js'
import type { Step } from '../engine/step.js'
import type { ClusterInputs, Config, ImagesInputs, SourcesInputs } from '../config/inputs.js'
import type { Artifact } from '../host/download.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'
import type { ImageStore } from '../images/store.js'
import type { PluginContext } from '../engine/plugin-context.js'

/** the inputs a runtime may refuse in combination with itself */
export type RuntimeInputs = Pick<Config, 'loadImages' | 'registryCredentials'>

/**
 * Where the preload's images are, as data the post step keeps (never a command): the runtime
 * that wrote it turns it back into its export command, and refuses what it never writes.
 */
export interface StoreRef {
  /** containerd: the action's own, beside the host's */
  own?: boolean
  /** containerd: its major version */
  containerdMajor?: number
}

export interface RuntimeDriver {
  /** the command that writes `refs` from the store `ref` names to the archive `path` (the cache entry's); throws for a ref it never writes */
  exportArgv(paths: Paths, ref: StoreRef, path: string, refs: readonly string[]): string[]
  /** other inputs this runtime cannot serve, each a message naming both inputs; checked with the inputs */
  inputProblems(c: RuntimeInputs): string[]
  /** how the runtime will serve this host and version, decided before anything changes */
  setup(facts: HostFacts, version: string, paths: Paths): RuntimeSetup
  /** the host directories of its own it may write to, beside the ones every run uses (host/paths.ts, writeRoots) */
  hostRoots(paths: Paths): string[]
  /** for the post step, which knows only the paths: probes say what they require */
  diagnostics(paths: Paths): Probe[]
  /** the units whose whole journals go into the diagnostics archive; none where absent */
  journals?(paths: Paths): Journal[]
  hints: readonly Hint[]
}

export interface RuntimeSetup {
  /** the CRI endpoint kubeadm, the kubelet and crictl use */
  criSocket: string
  /** one line for logs and the summary */
  describe: string
  /** what stops the run before anything changes */
  problems: string[]
  /** warnings worth a line in the log and the summary */
  notes: string[]
  /** what its steps download (offline: true proves each is on this machine first) */
  downloads(config: SourcesInputs): Artifact[]
  /** the Debian packages its steps install with apt-get */
  packages: string[]
  /** the containerd major the configuration is rendered for, where the runtime is containerd */
  containerdMajor?: number
  /** the runtime phase: install where needed, configure, restart, wait until CRI answers (`runtime.ready`) */
  steps(p: PluginContext): Step[]
  /** its image pulls go through the host's dockerd, so Docker's registry-mirrors must be set first */
  pullsThroughDockerd: boolean
  /** whether registry-credentials go with each pull request (the preload's, the kubelet's) rather than in the runtime's config */
  credentialsInRequest(learned: Learned): boolean
  /** flags the kubelet needs for this runtime, given through kubeadm's nodeRegistration.kubeletExtraArgs */
  kubeletArgs(config: ClusterInputs & ImagesInputs, paths: Paths): Array<{ name: string; value: string }>
  /** the store imageStore fills, as data for the post step's export (RuntimeDriver.exportArgv) */
  storeRef(learned: Learned): StoreRef
  /** where preloaded images go: the store the CRI serves; `mirrors` for a runtime that pulls through them by name */
  imageStore(run: Run, mirrors: readonly RegistryMirror[]): ImageStore
  /** the commands imageStore runs, for the dry run */
  imageCommands(learned: Learned, mirrors: readonly RegistryMirror[]): {
    list(): string[]
    /** the commands a pull of `ref` runs where its first source answers, in order (a mirror pull and its retag) */
    pull(ref: string, credential?: RegistryCredential): string[][]
    importArchive(path: string): string[]
    tag(source: string, target: string): string[]
    exportArchive(path: string, refs: readonly string[]): string[]
  }
}
