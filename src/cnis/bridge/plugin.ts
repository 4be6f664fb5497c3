// cni: bridge. The CNI reference plugins the binaries phase already installs (bridge,
// host-local, portmap, loopback), configured by one file the action writes: no DaemonSet, no
// image and no manifest, so nothing waits for a pull or a rollout and the node is Ready as
// soon as the kubelet registers. One node needs no overlay: every pod is on the bridge.
import { join } from 'node:path'
import { step } from '../../engine/step.js'
import type { CniPlugin } from '../types.js'
import { BRIDGE_INTERFACE, BRIDGE_NETWORK, CONFLIST_NAME, LOOPBACK_NAME, renderBridgeConflist, renderLoopbackConf } from './conflist.js'

export const bridge: CniPlugin = {
  carriesPods: true,
  readiness: { nodeReady: true, namespaces: ['kube-system'] },
  describe: (config) => `bridge (the CNI reference plugins, no DaemonSet), pods in ${config.podNetworkCidr}`,
  predictedImages: () => [],
  offlineNeeds: async () => ({ downloads: [], images: [] }),

  // written before the runtime starts, so that its CRI finds the network when it loads
  configSteps: ({ config, paths }) => [
    step('config.cni', `bridge network for ${config.podNetworkCidr} (${BRIDGE_INTERFACE}, host-local, portmap)`, [], [
      { kind: 'write', path: join(paths.cniConfDir, CONFLIST_NAME), render: () => renderBridgeConflist(config.podNetworkCidr) },
      { kind: 'write', path: join(paths.cniConfDir, LOOPBACK_NAME), render: renderLoopbackConf }
    ])
  ],
  networkSteps: () => [],

  // the bridge itself and host-local's allocations appear with the first pod
  leftovers: (paths) => ({ files: [], dirs: [paths.cniStateDir, join(paths.cniStateDir, 'networks', BRIDGE_NETWORK)], interfaces: [BRIDGE_INTERFACE], mounts: [] }),

  // its files and host-local's allocations are under the CNI directories every run writes to
  hostRoots: () => [],
  diagnostics: (paths) => [
    { title: 'bridge CNI configuration', argv: ['cat', join(paths.cniConfDir, CONFLIST_NAME)], requires: [join(paths.cniConfDir, CONFLIST_NAME)] },
    { title: `${BRIDGE_INTERFACE} addresses`, argv: ['ip', 'addr', 'show', 'dev', BRIDGE_INTERFACE], requires: [join(paths.sysClassNet, BRIDGE_INTERFACE)] }
  ],

  hints: [
    { pattern: /failed to find plugin "(bridge|host-local|portmap|loopback)"/, hint: 'No CNI plugins in /opt/cni/bin: the CNI plugins download or extraction failed.' },
    {
      pattern: /"cni0" already has an IP address different from/,
      hint: `${BRIDGE_INTERFACE} is left over from another pod network (flannel's, on another subnet): \`sudo ip link delete ${BRIDGE_INTERFACE}\`, then run again.`
    }
  ]
}
