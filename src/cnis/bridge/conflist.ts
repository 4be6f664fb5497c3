// The pod network as one CNI configuration list for the reference plugins the binaries phase
// installs: `bridge` with `host-local` addresses from the pod CIDR, then `portmap` for
// hostPorts. One node needs no overlay and no daemon. Pure: values in, JSON out.
// The layout is containerd's own (script/setup/install-cni in containerd/containerd, which
// writes 10-containerd-net.conflist), with the pod CIDR in place of its 10.88.0.0/16.
import ipaddr from 'ipaddr.js'

/** The network's name: host-local keeps its allocations under /var/lib/cni/networks/<name>. */
export const BRIDGE_NETWORK = 'kubeadm-single-node'
/** The Linux bridge the plugin makes; the name every CNI guide gives it. */
export const BRIDGE_INTERFACE = 'cni0'
export const CONFLIST_NAME = '10-kubeadm-single-node-bridge.conflist'
export const LOOPBACK_NAME = '99-loopback.conf'
/** The CNI spec version both files declare; the plugins v1.x speak 1.0.0. */
export const CNI_SPEC = '1.0.0'

export function renderBridgeConflist(podCidr: string): string {
  const [address] = ipaddr.parseCIDR(podCidr)
  const everywhere = address.kind() === 'ipv6' ? '::/0' : '0.0.0.0/0'
  const conf = {
    cniVersion: CNI_SPEC,
    name: BRIDGE_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE_INTERFACE,
        // the bridge is the pods' gateway and masquerades what leaves the node
        isGateway: true,
        ipMasq: true,
        // a pod reaching itself through its Service's address comes back over the bridge
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: podCidr }]], routes: [{ dst: everywhere }] }
      },
      { type: 'portmap', capabilities: { portMappings: true } }
    ]
  }
  return `${JSON.stringify(conf, null, 2)}\n`
}

/**
 * The loopback network, in its own file as the CNI guides write it. containerd and
 * cri-dockerd bring a pod's `lo` up themselves; the file is for any runtime that does not.
 */
export function renderLoopbackConf(): string {
  return `${JSON.stringify({ cniVersion: CNI_SPEC, name: 'lo', type: 'loopback' }, null, 2)}\n`
}
