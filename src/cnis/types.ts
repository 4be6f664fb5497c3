// A CNI plug-in: everything the action does that depends on the pod network. One folder (or
// file) per CNI, one line in ./index.ts.
import type { CniSourceInputs, NetworkInputs } from '../config/inputs.js'
import type { Hint, Probe } from '../engine/diagnostics.js'
import type { Step } from '../engine/step.js'
import type { Paths } from '../host/paths.js'
import type { PluginContext } from '../engine/plugin-context.js'

export interface CniNeeds {
  downloads: Array<{ what: string; url: string; input: 'github-url' | 'cni-manifest' }>
  images: string[] | undefined
}

export interface CniPlugin {
  /**
   * The upstream release the plug-in pins (the default of `cni-version`), and the GitHub
   * repository whose releases `cni-version: latest` looks up. Absent: no release to choose.
   */
  release?: { repo: string; pinned: string }
  /** the smoke test can run: the CNI gives pods a network */
  carriesPods: boolean
  /** what the ready phase waits for */
  readiness: { nodeReady: boolean; namespaces: string[] }
  /** one line for logs and the summary */
  describe(config: NetworkInputs): string
  /** the images its manifest runs, predicted for the dry run (the run reads the manifest) */
  predictedImages(config: NetworkInputs): string[]
  /**
   * For offline: true, read before anything changes: what it will download (each with the
   * input whose value the URL comes from) and the images it will run, or undefined where
   * they cannot be known without the download (a manifest given as a URL).
   */
  offlineNeeds(config: CniSourceInputs): Promise<CniNeeds>
  /** config phase: fetch and render the manifest, learn its images (`config.cni`) */
  configSteps(p: PluginContext): Step[]
  /** network phase: apply it (`network.cni`) */
  networkSteps(p: PluginContext): Step[]
  /**
   * What the CNI will leave on the host once it runs. Recorded before `kubeadm init`, so that
   * cleanup removes it only after `kubeadm reset` has stopped the pods that use it.
   */
  leftovers(paths: Paths): CniLeftovers
  /** the host directories of its own its pods may leave files in, beside the ones every run uses (host/paths.ts, writeRoots) */
  hostRoots(paths: Paths): string[]
  diagnostics(paths: Paths, kubectl: string, kubeconfig: string): Probe[]
  /** files its pods leave on the node that explain a failure, for the diagnostics archive (node-files/); none where absent */
  hostFiles?(paths: Paths): string[]
  hints: readonly Hint[]
}

export interface CniLeftovers {
  files: string[]
  dirs: string[]
  interfaces: string[]
  /** filesystems its pods mount on the host and leave mounted: unmounted before `dirs` go */
  mounts: string[]
}
