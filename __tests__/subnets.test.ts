// The pod and Service CIDRs against the node's own network: the probe's parsers against
// `ip -j` output captured on a real machine (iproute2 6.1: lo, two ifb devices without
// addresses, eth0 with 192.0.2.2/24 and IPv6), and the refusal before anything changes.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { prepare } from '../src/commands/prepare.js'
import { InputError } from '../src/config/inputs.js'
import type { Run } from '../src/host/exec.js'
import { pathsUnder } from '../src/host/paths.js'
import { ipAddrArgv, ipRouteArgv, parseDefaultRoute, parseIpAddr, parseRoutes, probeHost } from '../src/host/probe.js'
import { subnetProblems } from '../src/host/subnets.js'
import { config } from './helpers/facts.js'

const fixture = (name: string) => readFile(join(import.meta.dirname, 'fixtures', name), 'utf8')

/** Answers the probe's `ip` questions with the captured output; every other command fails, as on a bare host. */
async function ipRun(): Promise<{ run: Run; asked: string[] }> {
  const [addr, route] = await Promise.all([fixture('ip-4-addr.json'), fixture('ip-4-route.json')])
  const asked: string[] = []
  const run: Run = async (argv, opts) => {
    asked.push(`${opts?.privileged ? 'sudo ' : ''}${argv.join(' ')}`)
    if (argv.join(' ') === ipAddrArgv.join(' ')) return { exitCode: 0, stdout: addr, stderr: '' }
    if (argv.join(' ') === ipRouteArgv.join(' ')) return { exitCode: 0, stdout: route, stderr: '' }
    return { exitCode: 1, stdout: '', stderr: 'not here' }
  }
  return { run, asked }
}

describe("the probe's view of the node's network", () => {
  it('parses `ip -j addr show`: IPv4 addresses with their interfaces, IPv6 and address-less devices left out', async () => {
    const expected = [
      { ifname: 'lo', address: '127.0.0.1', prefixlen: 8 },
      { ifname: 'eth0', address: '192.0.2.2', prefixlen: 24 }
    ]
    assert.deepEqual(parseIpAddr(await fixture('ip-addr.json')), expected)
    assert.deepEqual(parseIpAddr(await fixture('ip-4-addr.json')), expected, 'what the probe asks: ip -j -4 addr show')
  })

  it('parses `ip -j -4 route show`: the default route (interface and gateway), and the routes no interface\'s own network gives', async () => {
    assert.deepEqual(parseDefaultRoute(await fixture('ip-4-route.json')), { dev: 'eth0', gateway: '192.0.2.1' })
    assert.equal(parseDefaultRoute('[]'), undefined, 'no default route')
    // two default routes: the lower metric is the one the kernel takes
    const two = '[{"dst":"default","gateway":"10.0.0.1","dev":"wlan0","metric":600,"flags":[]},{"dst":"default","gateway":"192.0.2.1","dev":"eth0","metric":100,"flags":[]}]'
    assert.deepEqual(parseDefaultRoute(two), { dev: 'eth0', gateway: '192.0.2.1' })
    // a hosted runner's table (Azure's DHCP routes): the kernel's own (192.0.2.0/24, docker0) left out
    assert.deepEqual(parseRoutes(await fixture('ip-4-route.json')), [
      { dst: '192.0.2.1/32', dev: 'eth0' },
      { dst: '168.63.129.16/32', dev: 'eth0', gateway: '192.0.2.1' },
      { dst: '169.254.169.254/32', dev: 'eth0', gateway: '192.0.2.1' }
    ])
    assert.deepEqual(parseRoutes('[{"dst":"10.0.0.0/8","gateway":"10.8.0.1","dev":"tun0","protocol":"static","flags":[]},{"type":"blackhole","dst":"10.1.0.0/16","flags":[]}]'), [{ dst: '10.0.0.0/8', dev: 'tun0', gateway: '10.8.0.1' }, { dst: '10.1.0.0/16' }])
  })

  it('asks `ip` as the user, read-only, and has no network where `ip` does not answer', async () => {
    const { run, asked } = await ipRun()
    const facts = await probeHost(run, pathsUnder('/nonexistent-root'))
    assert.deepEqual(facts.network?.addresses, [{ ifname: 'lo', address: '127.0.0.1', prefixlen: 8 }, { ifname: 'eth0', address: '192.0.2.2', prefixlen: 24 }])
    assert.deepEqual(facts.network?.defaultRoute, { dev: 'eth0', gateway: '192.0.2.1' })
    assert.equal(facts.network?.routes?.length, 3)
    assert.ok(asked.includes(ipAddrArgv.join(' ')) && asked.includes(ipRouteArgv.join(' ')), asked.join('\n'))
    const silent: Run = async () => ({ exitCode: 1, stdout: '', stderr: 'ip: command not found' })
    assert.equal((await probeHost(silent, pathsUnder('/nonexistent-root'))).network, undefined)
  })
})

describe('pod and Service CIDRs that overlap the node', () => {
  const node = { addresses: parseIpAddr('[]'), defaultRoute: { dev: 'eth0', gateway: '192.0.2.1' } }
  node.addresses.push({ ifname: 'lo', address: '127.0.0.1', prefixlen: 8 }, { ifname: 'eth0', address: '192.0.2.2', prefixlen: 24 })

  it('names the input, its value and the address it holds', () => {
    assert.deepEqual(subnetProblems({ 'pod-network-cidr': '10.244.0.0/16', 'service-cidr': '10.96.0.0/12' }, node), [])
    const [p] = subnetProblems({ 'pod-network-cidr': '192.0.0.0/16' }, node)
    assert.match(p, /^Input 'pod-network-cidr' has the value "192\.0\.0\.0\/16", which overlaps this node's address 192\.0\.2\.2 \(on eth0\) and the network of this node's default route, 192\.0\.2\.0\/24/)
  })

  it("counts the default route's gateway where no subnet on its interface holds it (a /32 address)", () => {
    const cloud = { addresses: [{ ifname: 'ens4', address: '10.128.0.7', prefixlen: 32 }], defaultRoute: { dev: 'ens4', gateway: '10.128.0.1' } }
    const [p] = subnetProblems({ 'service-cidr': '10.128.0.0/24' }, cloud)
    assert.match(p, /^Input 'service-cidr' .*default route, 10\.128\.0\.1\/32 \(via ens4, gateway 10\.128\.0\.1\)/)
  })

  it("skips loopback, link-local, and docker0, cni0, flannel.1, vxlan.calico and kube-ipvs0, whose addresses are not the node's", () => {
    const busy = {
      addresses: [
        ...node.addresses,
        { ifname: 'eth1', address: '169.254.3.1', prefixlen: 16 },
        { ifname: 'docker0', address: '172.17.0.1', prefixlen: 16 },
        { ifname: 'cni0', address: '10.244.0.1', prefixlen: 24 },
        { ifname: 'flannel.1', address: '10.244.0.0', prefixlen: 32 },
        { ifname: 'vxlan.calico', address: '192.168.10.192', prefixlen: 32 },
        { ifname: 'kube-ipvs0', address: '10.96.0.10', prefixlen: 32 }
      ],
      defaultRoute: node.defaultRoute
    }
    assert.deepEqual(subnetProblems({ 'pod-network-cidr': '10.244.0.0/16', 'service-cidr': '10.96.0.0/12' }, busy), [])
    assert.deepEqual(subnetProblems({ 'pod-network-cidr': '172.16.0.0/12', 'service-cidr': '169.254.0.0/16' }, busy), [])
    assert.deepEqual(subnetProblems({ 'pod-network-cidr': '127.0.0.0/8' }, busy), [])
  })

  it('stops the run (and the dry run) with an InputError before anything changes on the host', async () => {
    const { run, asked } = await ipRun()
    const c = config({ 'kubernetes-version': 'v1.34.2', 'pod-network-cidr': '192.0.2.0/24' })
    await assert.rejects(prepare(c, run, pathsUnder('/nonexistent-root')), (err: Error) => {
      assert.ok(err instanceof InputError)
      assert.match(err.message, /Input 'pod-network-cidr' has the value "192\.0\.2\.0\/24", which overlaps this node's address 192\.0\.2\.2 \(on eth0\)/)
      return true
    })
    // the probe asked its questions; no step of the host phase ran
    assert.deepEqual(asked.filter((a) => /apt-get|modprobe|sysctl|swapoff|install /.test(a)), [])
  })
})
