// cni: none. No pod network: the node stays NotReady until the workflow installs its own CNI,
// and only the host-network control plane is waited for.
import type { CniPlugin } from './types.js'

export const none: CniPlugin = {
  carriesPods: false,
  readiness: { nodeReady: false, namespaces: ['kube-system'] },
  describe: () => 'none (install your own)',
  predictedImages: () => [],
  offlineNeeds: async () => ({ downloads: [], images: [] }),
  configSteps: () => [],
  networkSteps: () => [],
  leftovers: () => ({ files: [], dirs: [], interfaces: [], mounts: [] }),
  hostRoots: () => [],
  diagnostics: () => [],
  hints: []
}
