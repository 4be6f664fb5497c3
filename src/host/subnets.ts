// The pod and Service networks against the node's own: where a pod or Service CIDR holds one
// of the node's addresses, or overlaps the network its default route leaves by, the CNI's
// routes for the pod network and kube-proxy's rules for Services compete with the node's own
// routes for the same addresses, and the node or its pods lose their way out. Pure: the
// addresses come from the read-only probe (probe.ts).
import ipaddr from 'ipaddr.js'
import type { HostNetwork } from './probe.js'

/**
 * Interfaces whose addresses are not the node's own:
 * - docker0: Docker's bridge (172.17.0.1/16 by Docker's default), a network of Docker's that
 *   containers reach through NAT, not one the node is reached by;
 * - cni0, flannel.1 (flannel) and vxlan.calico (Calico): an earlier run of this action's own
 *   cluster leaves them holding an address from that run's pod CIDR; a run again with the
 *   same pod-network-cidr is not a conflict;
 * - kube-ipvs0: kube-proxy's IPVS dummy, holding an earlier cluster's Service addresses.
 */
export const NOT_THE_NODES = ['docker0', 'cni0', 'flannel.1', 'vxlan.calico', 'kube-ipvs0'] as const

/** Loopback (127.0.0.0/8) and link-local (169.254.0.0/16) addresses never leave the node. */
function counts(address: string): boolean {
  const range = ipaddr.IPv4.parse(address).range()
  return range !== 'loopback' && range !== 'linkLocal'
}

function networkOf(address: string, prefixlen: number): string {
  return `${ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefixlen}`).toString()}/${prefixlen}`
}

function overlap(a: [ipaddr.IPv4, number], b: [ipaddr.IPv4, number]): boolean {
  return a[0].match(b[0], b[1]) || b[0].match(a[0], a[1])
}

/**
 * One problem per input that overlaps the node, naming the input, its value and the address
 * or network it meets. `cidrs`: input name to its value, a network in CIDR form.
 */
export function subnetProblems(cidrs: Record<string, string>, network: HostNetwork | undefined): string[] {
  if (!network) return []
  const own = network.addresses.filter((a) => !(NOT_THE_NODES as readonly string[]).includes(a.ifname) && counts(a.address))
  const route = network.defaultRoute
  // the default route's network: the subnets on its interface, and its gateway where no
  // subnet there holds it (a /32 address with an on-link gateway, as some clouds do)
  const routeNets = route ? own.filter((a) => a.ifname === route.dev).map((a) => networkOf(a.address, a.prefixlen)) : []
  if (route?.gateway && ipaddr.IPv4.isValidFourPartDecimal(route.gateway) && !routeNets.some((n) => ipaddr.IPv4.parse(route.gateway!).match(ipaddr.IPv4.parseCIDR(n)))) {
    routeNets.push(`${route.gateway}/32`)
  }
  const problems: string[] = []
  for (const [input, value] of Object.entries(cidrs)) {
    const cidr = ipaddr.IPv4.parseCIDR(value)
    const hits = [
      ...own.filter((a) => ipaddr.IPv4.parse(a.address).match(cidr)).map((a) => `this node's address ${a.address} (on ${a.ifname})`),
      ...routeNets.filter((n) => overlap(cidr, ipaddr.IPv4.parseCIDR(n))).map((n) => `the network of this node's default route, ${n} (via ${route!.dev}${route!.gateway ? `, gateway ${route!.gateway}` : ''})`)
    ]
    if (hits.length === 0) continue
    const taken = [...new Set([...own.map((a) => networkOf(a.address, a.prefixlen)), ...routeNets])]
    problems.push(
      `Input '${input}' has the value ${JSON.stringify(value)}, which overlaps ${hits.join(' and ')}: the cluster's routes for it would compete with the node's own. Accepted: an IPv4 network disjoint from ${taken.join(', ')} (${NOT_THE_NODES.join(', ')}, loopback and link-local addresses do not count).`
    )
  }
  return problems
}
