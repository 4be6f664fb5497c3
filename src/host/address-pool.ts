// A pool of IPv4 addresses (a CIDR or an A-B range) held against the networks it must stay out
// of: the pod and Service networks, the node's own networks, and the networks Docker has made
// or will make. Pure: the host's addresses come from the read-only probe (probe.ts), Docker's
// settings from its daemon.json as the probe read it.
import ipaddr from 'ipaddr.js'
import type { AddressPool } from '../config/inputs.js'
import type { HostFacts, HostNetwork } from './probe.js'

export const ADDRESS_POOL_FORMS =
  "an IPv4 network in CIDR form from /24 to /32, such as '10.250.250.240/28', or a range 'FIRST-LAST' of at most 256 IPv4 addresses, such as '10.250.250.240-10.250.250.250'"

/** At most a /24 or 256 addresses: a pool for a test's Services, not a network's worth of routes. */
const MAX_ADDRESSES = 256

const toInt = (a: ipaddr.IPv4): number => a.toByteArray().reduce((n, b) => n * 256 + b, 0)
const fromInt = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
const isIPv4 = (s: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(s)

/**
 * Ranges no Service address can come from, since a route to them does not do what the pool
 * needs: "this network" and the limited broadcast address (RFC 1122, 3.2.1.3), loopback (the
 * local table answers first), link-local (where a cloud's metadata service is, 169.254.169.254),
 * and multicast and the reserved class E (RFC 5771, RFC 1112). Named, not read from ipaddr's
 * range(), which also calls RFC 2544's benchmark range, a default pool's home, reserved.
 */
const NOT_FOR_SERVICES: ReadonlyArray<{ cidr: string; what: string }> = [
  { cidr: '0.0.0.0/8', what: '"this network" range 0.0.0.0/8' },
  { cidr: '127.0.0.0/8', what: 'loopback range 127.0.0.0/8' },
  { cidr: '169.254.0.0/16', what: "link-local range 169.254.0.0/16 (a cloud's metadata service is 169.254.169.254)" },
  { cidr: '224.0.0.0/4', what: 'multicast range 224.0.0.0/4' },
  { cidr: '240.0.0.0/4', what: 'reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)' }
]

/** The pool a value names, or a sentence saying why it is none (the caller names the input). */
export function parseAddressPool(value: string): AddressPool | string {
  const v = value.trim()
  let pool: AddressPool
  if (v.includes('/')) {
    const [addr, bits] = v.split('/')
    if (!isIPv4(addr) || !/^\d{1,2}$/.test(bits) || Number(bits) < 24 || Number(bits) > 32) return 'not an IPv4 network from /24 to /32'
    const net = ipaddr.IPv4.networkAddressFromCIDR(v)
    const first = toInt(net)
    pool = { given: v, first: net.toString(), last: fromInt(first + 2 ** (32 - Number(bits)) - 1) }
  } else {
    const parts = v.split('-').map((s) => s.trim())
    if (parts.length !== 2 || !parts.every(isIPv4)) return 'neither a CIDR nor a FIRST-LAST range of IPv4 addresses'
    const [a, b] = parts.map((p) => toInt(ipaddr.IPv4.parse(p)))
    if (a > b) return 'a range whose first address is after its last'
    if (b - a + 1 > MAX_ADDRESSES) return `a range of ${b - a + 1} addresses, more than ${MAX_ADDRESSES}`
    pool = { given: v, first: fromInt(a), last: fromInt(b) }
  }
  const special = NOT_FOR_SERVICES.find((r) => overlapsCidr(pool, r.cidr))
  return special ? `in the ${special.what}, where no Service address can be routed` : pool
}

/** Where a CIDR's address is not its network's (10.250.0.5/24): the network it is read as. */
export function poolHostBits(p: AddressPool): string | undefined {
  if (!p.given.includes('/')) return undefined
  const addr = p.given.split('/')[0]
  return addr === p.first ? undefined : `${p.first}/${p.given.split('/')[1]}`
}

/** The pool as MetalLB and the dry run write it: its CIDR where it is one, else FIRST-LAST. */
export function poolText(p: AddressPool): string {
  const cidrs = poolCidrs(p)
  return cidrs.length === 1 ? cidrs[0] : `${p.first}-${p.last}`
}

/** The fewest CIDRs that cover the pool exactly (what a route can name). */
export function poolCidrs(p: AddressPool): string[] {
  let start = toInt(ipaddr.IPv4.parse(p.first))
  const end = toInt(ipaddr.IPv4.parse(p.last))
  const out: string[] = []
  while (start <= end) {
    let bits = 32
    // the largest block aligned at start that ends within the pool
    while (bits > 0) {
      const size = 2 ** (33 - bits)
      if (start % size !== 0 || start + size - 1 > end) break
      bits--
    }
    out.push(`${fromInt(start)}/${bits}`)
    start += 2 ** (32 - bits)
  }
  return out
}

function overlapsCidr(p: AddressPool, cidr: string): boolean {
  const [net, bits] = ipaddr.IPv4.parseCIDR(cidr)
  const lo = toInt(ipaddr.IPv4.networkAddressFromCIDR(`${net.toString()}/${bits}`))
  const hi = lo + 2 ** (32 - bits) - 1
  return toInt(ipaddr.IPv4.parse(p.first)) <= hi && lo <= toInt(ipaddr.IPv4.parse(p.last))
}

const networkOf = (address: string, prefixlen: number): string => `${ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefixlen}`).toString()}/${prefixlen}`

/**
 * Docker's address pools where daemon.json sets none: 172.17.0.0/16 to 172.31.0.0/16 and
 * 192.168.0.0/16 (in /20s), from which `docker network create` takes a network later in the job.
 * Source: https://github.com/moby/moby/blob/master/daemon/libnetwork/ipamutils/utils.go
 * (localScopeDefaultNetworks; libnetwork/ipamutils/utils.go before moby v2).
 */
export const DOCKER_DEFAULT_POOLS = ['172.17.0.0/16', '172.18.0.0/15', '172.20.0.0/14', '172.24.0.0/13', '192.168.0.0/16'] as const

/** Docker's networks: its bridge's `bip`, and `default-address-pools` (or Docker's own defaults). */
export function dockerNetworks(daemonJson: Record<string, unknown> | undefined): string[] {
  const out: string[] = []
  const bip = daemonJson?.bip
  if (typeof bip === 'string' && /^[\d.]+\/\d+$/.test(bip)) out.push(networkOf(bip.split('/')[0], Number(bip.split('/')[1])))
  const pools = daemonJson?.['default-address-pools']
  const bases = Array.isArray(pools) ? pools.flatMap((x) => (typeof x?.base === 'string' && ipaddr.IPv4.isValidCIDR(x.base) ? [x.base as string] : [])) : []
  return [...out, ...(bases.length > 0 ? bases : DOCKER_DEFAULT_POOLS)]
}

export interface PoolTaken {
  /** what it is, for the error: "service-cidr 10.96.0.0/12" */
  what: string
  cidr: string
}

/**
 * Every network a pool must stay out of: the pod and Service networks; each network an
 * interface of the node holds an address in (Docker's bridges and an earlier cluster's
 * interfaces too: an address routed there is taken), loopback and link-local aside; the
 * default route's gateway; every other route the host has (a VPN's 10.0.0.0/8: the pool's
 * more specific route would take those addresses from it, and only an identical prefix makes
 * `ip route add` fail), but those by way of `ownDevs` (the pool's own interface, which an
 * earlier run left and this one makes afresh); and Docker's networks, made or to be made.
 */
export function takenNetworks(cidrs: Record<string, string>, facts: Pick<HostFacts, 'network' | 'daemonJson'>, ownDevs: readonly string[] = []): PoolTaken[] {
  const taken: PoolTaken[] = Object.entries(cidrs).map(([input, cidr]) => ({ what: `${input} ${cidr}`, cidr }))
  const net: HostNetwork | undefined = facts.network
  for (const a of net?.addresses ?? []) {
    const range = ipaddr.IPv4.parse(a.address).range()
    if (range === 'loopback' || range === 'linkLocal') continue
    taken.push({ what: `the network ${networkOf(a.address, a.prefixlen)} of ${a.ifname} (address ${a.address})`, cidr: networkOf(a.address, a.prefixlen) })
  }
  const gw = net?.defaultRoute?.gateway
  if (gw && isIPv4(gw)) taken.push({ what: `the default route's gateway ${gw}`, cidr: `${gw}/32` })
  for (const r of net?.routes ?? []) {
    if (r.dev && ownDevs.includes(r.dev)) continue
    const range = ipaddr.IPv4.parse(r.dst.split('/')[0]).range()
    if (range === 'loopback' || range === 'linkLocal') continue
    taken.push({ what: `the host's route to ${r.dst} (${[r.dev && `dev ${r.dev}`, r.gateway && `via ${r.gateway}`].filter(Boolean).join(' ') || 'no device'})`, cidr: r.dst })
  }
  for (const d of dockerNetworks(facts.daemonJson)) taken.push({ what: `Docker's network ${d}`, cidr: d })
  return taken
}

/** What the pool overlaps, one phrase each; empty when it is clear of all. */
export function poolCollisions(p: AddressPool, taken: readonly PoolTaken[]): string[] {
  return taken.filter((t) => overlapsCidr(p, t.cidr)).map((t) => t.what)
}

/**
 * The default pools, in the order tried: small, from ranges no cloud, Docker or kubeadm default
 * uses (the top of 10/8, the top of RFC 6598's shared space, RFC 2544's benchmark range). The
 * first clear of every taken network is used.
 */
export const DEFAULT_POOLS = ['10.250.250.240/28', '100.127.250.240/28', '198.19.250.240/28'] as const

/** The first default pool clear of `taken`, or undefined when every one collides. */
export function pickPool(taken: readonly PoolTaken[]): AddressPool | undefined {
  for (const c of DEFAULT_POOLS) {
    const p = parseAddressPool(c) as AddressPool
    if (poolCollisions(p, taken).length === 0) return p
  }
  return undefined
}
