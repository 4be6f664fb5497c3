// load-balancer: its inputs, the pool against the host's networks, MetalLB's pinned manifest
// (served by a local server, refused when changed), the rendered objects, the plan's steps,
// and the dummy interface undone by the ledger. What needs a control plane (MetalLB giving an
// address, nginx answering on it) is the e2e job's (.github/workflows/e2e.yml).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { ADDONS, enabledAddons } from '../src/addons/index.js'
import { fetchManifest, manifestPin, METALLB, metallbManifestUrl, renderMetallbManifest } from '../src/addons/load-balancer/metallb.js'
import { LB_INTERFACE, loadBalancer, poolProblems, resolvePool } from '../src/addons/load-balancer/plugin.js'
import { renderLoadBalancerService, renderPoolManifest } from '../src/addons/load-balancer/resources.js'
import { cacheKey } from '../src/cache/key.js'
import { InputError, type Config } from '../src/config/inputs.js'
import { execute, orderSteps } from '../src/engine/execute.js'
import { hintsFor } from '../src/engine/diagnostics.js'
import type { Learned } from '../src/engine/learned.js'
import { DEFAULT_POOLS, parseAddressPool, poolCidrs, poolText } from '../src/host/address-pool.js'
import { createRun } from '../src/host/exec.js'
import { createHost, type Host, undoChanges } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { HOST_PATHS } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import { systemd } from '../src/host/services.js'
import { buildPlan } from '../src/phases/index.js'
import { offlineProblems } from '../src/preflight/offline.js'
import { config, hostedRunner } from './helpers/facts.js'
import { diffSnapshots, layRunner, shimDir, snapshot } from './helpers/host-tree.js'
import { nonLoopbackAddress, serve, type TestServer } from './helpers/http.js'

const MANIFEST = readFileSync('__tests__/fixtures/metallb-native-v0.16.1.yaml', 'utf8')
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

function problemsOf(inputs: Record<string, string>): string[] {
  try {
    config(inputs)
  } catch (err) {
    assert.ok(err instanceof InputError, String(err))
    return err.problems
  }
  return []
}

/** A hosted runner with these IPv4 addresses (eth0's default route) and Docker's daemon.json. */
function facts(addresses: Array<[string, string, number]>, daemonJson: Record<string, unknown> = {}, gateway = '10.1.0.1'): HostFacts {
  return {
    ...hostedRunner,
    daemonJson,
    network: { addresses: addresses.map(([ifname, address, prefixlen]) => ({ ifname, address, prefixlen })), defaultRoute: { dev: 'eth0', gateway } }
  }
}
const RUNNER = facts([['lo', '127.0.0.1', 8], ['eth0', '10.1.0.4', 16], ['docker0', '172.17.0.1', 16]])

const plan = (c: Config, f: HostFacts = RUNNER) => buildPlan({ config: c, facts: f, version: 'v1.34.2', paths: HOST_PATHS })

describe('load-balancer inputs', () => {
  it('is off by default, with no pool; the add-on is registered once, by its input', () => {
    const c = config()
    assert.equal(c.loadBalancer, false)
    assert.equal(c.loadBalancerAddresses, undefined)
    assert.deepEqual(enabledAddons(c), [])
    assert.equal(ADDONS.filter((a) => a.input === 'load-balancer').length, 1)
    assert.deepEqual(enabledAddons(config({ 'load-balancer': 'true' })), [loadBalancer])
  })

  it('takes a CIDR from /24 to /32, or a FIRST-LAST range of at most 256 addresses', () => {
    const cidr = config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.0/29' }).loadBalancerAddresses
    assert.deepEqual(cidr, { given: '10.9.8.0/29', first: '10.9.8.0', last: '10.9.8.7' })
    const range = config({ 'load-balancer': 'true', 'load-balancer-addresses': ' 10.9.8.10 - 10.9.8.20 ' }).loadBalancerAddresses
    assert.deepEqual(range, { given: '10.9.8.10 - 10.9.8.20', first: '10.9.8.10', last: '10.9.8.20' })
    assert.deepEqual(parseAddressPool('10.9.8.5/32'), { given: '10.9.8.5/32', first: '10.9.8.5', last: '10.9.8.5' })
    // host bits are cleared, as for the pod and Service networks, and said
    assert.deepEqual(parseAddressPool('10.9.8.9/29'), { given: '10.9.8.9/29', first: '10.9.8.8', last: '10.9.8.15' })
    assert.ok(config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.9/29' }).notes.includes(`Input 'load-balancer-addresses' has the value "10.9.8.9/29", which has host bits set; it is read as its network, 10.9.8.8/29.`))
    assert.deepEqual(config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.8/29' }).notes, [])
    // RFC 2544's benchmark range, a default pool's home, is no special range
    assert.equal(typeof parseAddressPool(DEFAULT_POOLS[2]), 'object')
  })

  it("refuses cni 'none', naming both inputs: MetalLB's controller needs a pod network", () => {
    const problems = plan(config({ 'load-balancer': 'true', cni: 'none' })).inputProblems
    assert.equal(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /^Inputs 'load-balancer' \('true'\) and 'cni' \('none'\) do not go together: MetalLB's controller is an ordinary pod.*accepted: load-balancer with cni 'flannel', 'calico' or 'bridge'/)
    assert.deepEqual(plan(config({ 'load-balancer': 'true', cni: 'bridge' })).inputProblems, [])
  })

  for (const [value, why] of [
    ['10.9.8.0/23', 'not an IPv4 network from /24 to /32'],
    ['10.9.8.0/33', 'not an IPv4 network from /24 to /32'],
    ['fd00::/120', 'not an IPv4 network from /24 to /32'],
    ['10.9.8.300', 'neither a CIDR nor a FIRST-LAST range'],
    ['10.9.8.20-10.9.8.10', 'first address is after its last'],
    ['10.9.8.0-10.9.9.0', 'a range of 257 addresses, more than 256'],
    ['pool', 'neither a CIDR nor a FIRST-LAST range'],
    // addresses no route can make a Service's
    ['169.254.169.0/24', "in the link-local range 169.254.0.0/16 (a cloud's metadata service is 169.254.169.254)"],
    ['127.0.0.0/24', 'in the loopback range 127.0.0.0/8'],
    ['224.0.0.0/28', 'in the multicast range 224.0.0.0/4'],
    ['0.0.0.0/28', 'in the "this network" range 0.0.0.0/8'],
    ['255.255.255.0/24', 'in the reserved range 240.0.0.0/4'],
    ['126.255.255.250-127.0.0.2', 'in the loopback range']
  ]) {
    it(`refuses ${JSON.stringify(value)}, naming the input and its forms`, () => {
      const problems = problemsOf({ 'load-balancer': 'true', 'load-balancer-addresses': value })
      assert.equal(problems.length, 1, problems.join('\n'))
      assert.match(problems[0], new RegExp(`^Input 'load-balancer-addresses' has the value ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; accepted: an IPv4 network in CIDR form`))
      assert.ok(problems[0].includes(why), problems[0])
    })
  }

  it('refuses a pool in the pod or the Service network, at parse time', () => {
    const [pod] = problemsOf({ 'load-balancer': 'true', 'load-balancer-addresses': '10.244.3.0/28' })
    assert.match(pod, /^Input 'load-balancer-addresses' has the value "10\.244\.3\.0\/28".*overlaps pod-network-cidr 10\.244\.0\.0\/16/)
    const [svc] = problemsOf({ 'load-balancer': 'true', 'load-balancer-addresses': '10.96.0.250-10.96.1.4' })
    assert.match(svc, /overlaps service-cidr 10\.96\.0\.0\/12/)
    // the networks as the user set them, not the defaults
    assert.deepEqual(problemsOf({ 'load-balancer': 'true', 'load-balancer-addresses': '10.244.3.0/28', 'pod-network-cidr': '10.200.0.0/16' }), [])
  })

  it('refuses a pool without load-balancer', () => {
    const problems = problemsOf({ 'load-balancer-addresses': '10.9.8.0/29' })
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^Inputs 'load-balancer-addresses' \("10\.9\.8\.0\/29"\) and 'load-balancer' \('false'\) do not go together/)
  })
})

describe('load-balancer pool against the host', () => {
  it('picks the first default pool clear of everything, and says none is wrong', () => {
    const c = config({ 'load-balancer': 'true' })
    assert.equal(poolText(resolvePool({ config: c, facts: RUNNER })!), DEFAULT_POOLS[0])
    assert.deepEqual(plan(c).inputProblems, [])
    // the first default is on the node's own network: the next one
    const onFirst = facts([['eth0', '10.250.0.4', 16]])
    assert.equal(poolText(resolvePool({ config: c, facts: onFirst })!), DEFAULT_POOLS[1])
    // a pod network over 10/8 and a Docker pool over 100.64/10: the third
    const wide = config({ 'load-balancer': 'true', 'pod-network-cidr': '10.0.0.0/8', 'service-cidr': '172.16.0.0/16' })
    assert.equal(poolText(resolvePool({ config: wide, facts: facts([['eth0', '192.0.2.4', 24]], { 'default-address-pools': [{ base: '100.64.0.0/10', size: 24 }] }) })!), DEFAULT_POOLS[2])
  })

  it('refuses, before anything changes, when every default pool is taken', () => {
    const c = config({ 'load-balancer': 'true', 'pod-network-cidr': '10.0.0.0/8', 'service-cidr': '172.16.0.0/16' })
    const f = facts([['eth0', '100.127.250.241', 24], ['tun0', '198.19.0.1', 16]], {}, '100.127.250.1')
    assert.equal(resolvePool({ config: c, facts: f }), undefined)
    const problems = plan(c, f).inputProblems
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^Input 'load-balancer-addresses' is empty, and every default pool overlaps a network here \(10\.250\.250\.240\/28: pod-network-cidr 10\.0\.0\.0\/8; 100\.127\.250\.240\/28: the network 100\.127\.250\.0\/24 of eth0 .*; 198\.19\.250\.240\/28: the network 198\.19\.0\.0\/16 of tun0/)
  })

  it("refuses a given pool on the node's network, a Docker bridge, Docker's pools or the gateway", () => {
    const withLb = (pool: string) => config({ 'load-balancer': 'true', 'load-balancer-addresses': pool })
    const f = facts([['lo', '127.0.0.1', 8], ['eth0', '10.1.0.4', 16], ['docker0', '172.17.0.1', 16], ['br-5e1f', '10.20.0.1', 24]], { bip: '10.30.0.1/24' })
    const cases: Array<[string, RegExp]> = [
      ['10.1.200.0/28', /overlaps the network 10\.1\.0\.0\/16 of eth0 \(address 10\.1\.0\.4\)/],
      ['10.20.0.16/28', /the network 10\.20\.0\.0\/24 of br-5e1f/],
      ['172.17.5.0/28', /the network 172\.17\.0\.0\/16 of docker0 .* and Docker's network 172\.17\.0\.0\/16/],
      ['10.30.0.128-10.30.0.140', /Docker's network 10\.30\.0\.0\/24/],
      ['192.168.99.0/28', /Docker's network 192\.168\.0\.0\/16/]
    ]
    for (const [pool, why] of cases) {
      const problems = plan(withLb(pool), f).inputProblems
      assert.equal(problems.length, 1, pool)
      assert.match(problems[0], new RegExp(`^Input 'load-balancer-addresses' has the value "${pool.replace(/\./g, '\\.').replace('/', '\\/')}", which overlaps `), pool)
      assert.match(problems[0], why, pool)
    }
    // with daemon.json's default-address-pools, Docker's own defaults are not Docker's any more
    assert.deepEqual(poolProblems({ config: withLb('192.168.99.0/28'), facts: facts([['eth0', '10.1.0.4', 16]], { 'default-address-pools': [{ base: '10.40.0.0/16', size: 24 }] }) }), [])
    // a route of the host's (a VPN's 10.0.0.0/8): the pool's narrower route would take its addresses; the action's own ksn-lb0 routes, from an earlier run, do not count
    const vpn: HostFacts = { ...f, network: { ...f.network!, routes: [{ dst: '10.0.0.0/8', dev: 'tun0', gateway: '10.8.0.1' }, { dst: '100.127.250.240/28', dev: LB_INTERFACE }] } }
    const [p] = plan(withLb('10.9.8.0/29'), vpn).inputProblems
    assert.match(p, /overlaps the host's route to 10\.0\.0\.0\/8 \(dev tun0 via 10\.8\.0\.1\)/)
    assert.equal(poolText(resolvePool({ config: config({ 'load-balancer': 'true' }), facts: vpn })!), DEFAULT_POOLS[1], 'the first default is in the VPN route; the next is taken although ksn-lb0 routes it')
    // loopback and link-local never count; a clear pool is taken as given
    assert.deepEqual(poolProblems({ config: withLb('10.9.8.0/29'), facts: f }), [])
    assert.equal(poolText(resolvePool({ config: withLb('10.9.8.0/29'), facts: f })!), '10.9.8.0/29')
  })

  it('routes a range by the fewest CIDRs that cover it exactly', () => {
    assert.deepEqual(poolCidrs(parseAddressPool('10.0.0.1-10.0.0.6') as never), ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32'])
    assert.deepEqual(poolCidrs(parseAddressPool('10.0.0.0-10.0.0.255') as never), ['10.0.0.0/24'])
    assert.deepEqual(poolCidrs(parseAddressPool('10.250.250.240/28') as never), ['10.250.250.240/28'])
    assert.equal(poolText(parseAddressPool('10.0.0.0-10.0.0.255') as never), '10.0.0.0/24')
    assert.equal(poolText(parseAddressPool('10.0.0.1-10.0.0.6') as never), '10.0.0.1-10.0.0.6')
  })
})

describe('load-balancer rendered objects', () => {
  it('an IPAddressPool with the pool and an L2Advertisement of it', () => {
    const docs = parseAllDocuments(renderPoolManifest(parseAddressPool('10.9.8.10-10.9.8.20') as never)).map((d) => d.toJS())
    assert.deepEqual(
      docs.map((d) => [d.apiVersion, d.kind, d.metadata.namespace]),
      [
        ['metallb.io/v1beta1', 'IPAddressPool', 'metallb-system'],
        ['metallb.io/v1beta1', 'L2Advertisement', 'metallb-system']
      ]
    )
    assert.deepEqual(docs[0].spec.addresses, ['10.9.8.10-10.9.8.20'])
    assert.deepEqual(docs[1].spec.ipAddressPools, [docs[0].metadata.name])
  })

  it("a LoadBalancer Service selecting the smoke test's pods, without YAML anchors", () => {
    const text = renderLoadBalancerService('smoke', 'default', { app: 'smoke' })
    assert.ok(!/[&*]a\d/.test(text), text)
    const svc = parseAllDocuments(text)[0].toJS()
    assert.equal(svc.spec.type, 'LoadBalancer')
    assert.equal(svc.metadata.name, 'smoke-lb')
    assert.deepEqual(svc.spec.selector, { app: 'smoke' })
    assert.deepEqual(svc.spec.ports, [{ port: 80, targetPort: 80, protocol: 'TCP' }])
  })
})

describe("MetalLB's pinned manifest", () => {
  let server: TestServer
  const tampered = MANIFEST.replace('quay.io/metallb/speaker:v0.16.1', 'quay.io/evil/speaker:v0.16.1')
  const addr = nonLoopbackAddress()
  const saved = { ...process.env }
  before(async () => {
    process.env.RUNNER_TEMP = await mkdtemp(join(tmpdir(), 'ksn-metallb-'))
    server = await serve(
      {
        [`/metallb/metallb/raw/${METALLB.version}/${METALLB.manifestPath}`]: { body: MANIFEST },
        [`/bad/metallb/metallb/raw/${METALLB.version}/${METALLB.manifestPath}`]: { body: tampered }
      },
      addr ?? '127.0.0.1'
    )
  })
  after(async () => {
    process.env = saved
    await server.close()
  })

  it('is the file at the tag: the pin is its SHA-256, and its images are the ones named', () => {
    assert.equal(sha256(MANIFEST), METALLB.manifestSha256)
    const r = renderMetallbManifest(MANIFEST, { tolerateControlPlane: false })
    assert.deepEqual(r.images, [...METALLB.images])
    assert.deepEqual(loadBalancer.images(config({ 'load-balancer': 'true' })), [...METALLB.images])
  })

  it('is applied as upstream wrote it, but for the speaker flag and, with the taint kept, a toleration', () => {
    const before = parseAllDocuments(MANIFEST).map((d) => d.toJS())
    for (const tolerate of [false, true]) {
      const after = parseAllDocuments(renderMetallbManifest(MANIFEST, { tolerateControlPlane: tolerate }).manifest).map((d) => d.toJS())
      assert.equal(after.length, before.length)
      const changed = after.flatMap((d, i) => (JSON.stringify(d) === JSON.stringify(before[i]) ? [] : [`${d.kind}/${d.metadata.name}`]))
      assert.deepEqual(changed, tolerate ? ['Deployment/controller', 'DaemonSet/speaker'] : ['DaemonSet/speaker'])
      const speaker = after.find((d) => d.kind === 'DaemonSet').spec.template.spec.containers[0]
      assert.equal(speaker.args.filter((a: string) => a === '--ignore-exclude-lb').length, 1)
      const controller = after.find((d) => d.kind === 'Deployment').spec.template.spec
      assert.deepEqual(controller.tolerations ?? [], tolerate ? [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] : [])
    }
  })

  it('refuses a manifest that is not MetalLB', () => {
    assert.throws(() => renderMetallbManifest('kind: ConfigMap\nmetadata:\n  name: x\n', { tolerateControlPlane: false }), /no speaker DaemonSet/)
  })

  it('is read from github-url at the tag, and held to the pin unless it is on this machine', () => {
    assert.equal(metallbManifestUrl('https://github.com'), 'https://github.com/metallb/metallb/raw/v0.16.1/config/manifests/metallb-native.yaml')
    assert.equal(manifestPin('https://github.com/x'), METALLB.manifestSha256)
    assert.equal(manifestPin('http://127.0.0.1:8080/x'), undefined)
    assert.equal(manifestPin('file:///opt/gh/x'), undefined)
  })

  it('is fetched and checked against the digest: the right one passes, a changed file is refused', async () => {
    assert.equal(await fetchManifest(`${server.url}/metallb/metallb/raw/${METALLB.version}/${METALLB.manifestPath}`, METALLB.manifestSha256), MANIFEST)
    await assert.rejects(
      fetchManifest(`${server.url}/bad/metallb/metallb/raw/${METALLB.version}/${METALLB.manifestPath}`, METALLB.manifestSha256),
      new RegExp(`has SHA-256 ${sha256(tampered)}, but the action pins ${METALLB.manifestSha256} for MetalLB v0\\.16\\.1\\. Nothing was applied`)
    )
  })

  it("the plan's manifest step writes the verified, rendered manifest, and refuses a mirror's changed one", async (t) => {
    if (!addr) return t.skip('no non-loopback IPv4 address here: a mirror on loopback is the user own and is not held to the pin')
    const run = async (githubUrl: string): Promise<Map<string, string>> => {
      // a URL the inputs would refuse over plain http: set directly, as an https mirror would be
      const p = plan({ ...config({ 'load-balancer': 'true' }), githubUrl })
      const s = p.steps.find((x) => x.id === 'addons.load-balancer-manifest')!
      const written = new Map<string, string>()
      const host = { writeFile: async (path: string, content: string) => void written.set(path, content) } as unknown as Host
      await execute([s], { host, learned: p.learned })
      return written
    }
    const written = await run(server.url)
    assert.deepEqual([...written.keys()], [join(HOST_PATHS.stateDir, 'metallb.yaml')])
    assert.ok(written.get(join(HOST_PATHS.stateDir, 'metallb.yaml'))!.includes('--ignore-exclude-lb'))
    await assert.rejects(run(`${server.url}/bad`), /has SHA-256 .* but the action pins/)
  })
})

describe('load-balancer in the plan', () => {
  const ids = (c: Config) => orderSteps(plan(c).steps).map((s) => s.id)

  it('is absent unless asked for', () => {
    const p = plan(config())
    assert.ok(!p.steps.some((s) => s.id.includes('load-balancer')))
    assert.ok(!(p.learned.addonImages ?? []).some((i) => i.includes('metallb')))
  })

  it('fetches, routes, applies after the API answers, waits, then applies the pool; the smoke test checks it last', () => {
    const order = ids(config({ 'load-balancer': 'true' }))
    const at = (id: string) => {
      const i = order.indexOf(id as never)
      assert.ok(i >= 0, `${id} in the plan`)
      return i
    }
    assert.ok(at('addons.load-balancer-apply') > at('init.kubeconfig'))
    assert.ok(at('addons.load-balancer-apply') > at('addons.load-balancer-manifest'))
    assert.ok(at('addons.load-balancer-route') > at('host.kernel'))
    assert.ok(at('addons.load-balancer-ready') > at('addons.load-balancer-apply'))
    assert.ok(at('addons.load-balancer-pool') > at('addons.load-balancer-ready'))
    assert.ok(at('smoke.load-balancer') > at('addons.load-balancer-pool'))
    assert.ok(at('smoke.load-balancer') > at('smoke.deploy'))
    const p = plan(config({ 'load-balancer': 'true' }))
    assert.deepEqual(p.steps.find((s) => s.id === 'smoke.load-balancer')!.needs, ['smoke.deploy', 'addons.load-balancer-pool'])
    // MetalLB's images are preloaded with the cluster's
    for (const i of METALLB.images) assert.ok(p.learned.addonImages!.includes(i))
    const preload = p.steps.find((s) => s.id === 'images.preload')!
    const shown = preload.ops.flatMap((o) => (o.kind === 'task' ? o.shows : [])).join('\n')
    for (const i of METALLB.images) assert.ok(shown.includes(i), `${i} preloaded`)
    // without the smoke test, no LoadBalancer check and no address to output
    assert.ok(!ids(config({ 'load-balancer': 'true', 'smoke-test': 'false' })).includes('smoke.load-balancer' as never))
  })

  it('shows the manifest URL, the pinned digest and the pool in the dry run', () => {
    const p = plan(config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.0/29' }))
    const text = JSON.stringify(p.steps.filter((s) => s.id.includes('load-balancer')))
    assert.ok(text.includes(metallbManifestUrl('https://github.com')))
    assert.ok(text.includes(METALLB.manifestSha256))
    assert.ok(text.includes('ip route add 10.9.8.0/29 dev ksn-lb0'))
    assert.ok(text.includes('10.9.8.0/29'))
  })

  it('keys the cache by its images', () => {
    const off = cacheKey(config(), 'v1.34.2', 'amd64')
    const on = cacheKey(config({ 'load-balancer': 'true' }), 'v1.34.2', 'amd64')
    assert.notEqual(off.key, on.key)
    assert.ok(on.covers.includes('addonImages'))
    // the pool decides no image
    assert.equal(cacheKey(config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.0/29' }), 'v1.34.2', 'amd64').key, on.key)
  })
})

describe('load-balancer offline', () => {
  it("needs MetalLB's manifest under github-url and its images in image-archives", async () => {
    const c = config({ 'kubernetes-version': 'v1.34.2', offline: 'true', 'load-balancer': 'true', 'kubernetes-release-url': 'file:///opt/k8s/release', 'github-url': 'file:///opt/k8s/gh' })
    // everything is there but MetalLB's manifest, and the archives hold every image but MetalLB's
    const probe = {
      missing: async (url: string) => (url.includes('metallb') ? 'no such file' : undefined),
      archiveNames: async () => [] as string[]
    }
    const problems = await offlineProblems(c, RUNNER, 'v1.34.2', plan(c), probe)
    assert.ok(problems.includes(`The MetalLB manifest v0.16.1 is not at file:///opt/k8s/gh/metallb/metallb/raw/v0.16.1/config/manifests/metallb-native.yaml (no such file); it comes from input 'github-url', which must hold it with offline: true.`), problems.join('\n'))
    for (const i of METALLB.images) assert.ok(problems.some((p) => p.startsWith(`Image ${i} (asked for by load-balancer)`)), `${i}: ${problems.join('\n')}`)
    // without the input, neither is asked for
    const off = config({ 'kubernetes-version': 'v1.34.2', offline: 'true', 'kubernetes-release-url': 'file:///opt/k8s/release', 'github-url': 'file:///opt/k8s/gh' })
    assert.ok(!(await offlineProblems(off, RUNNER, 'v1.34.2', plan(off), probe)).some((p) => /metallb/i.test(p)))
  })
})

describe("load-balancer's host change", () => {
  const savedEnv = { ...process.env }
  after(() => {
    process.env = savedEnv
  })

  it('routes the pool to its dummy interface, recorded first; cleanup leaves the host as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksn-lb-'))
    const root = join(dir, 'host')
    const paths = await layRunner(root)
    const shims = await shimDir(dir)
    Object.assign(process.env, { PATH: `${shims}:${savedEnv.PATH}`, SHIM_DIR: shims, SHIM_ROOT: root, SHIM_LOG: join(dir, 'shim.log'), RUNNER_TEMP: join(dir, 'temp') })
    const run = createRun({ debug: () => {} })
    const p = buildPlan({ config: config({ 'load-balancer': 'true', 'load-balancer-addresses': '10.9.8.1-10.9.8.6' }), facts: RUNNER, version: 'v1.34.2', paths })
    const route = p.steps.find((s) => s.id === 'addons.load-balancer-route')!
    const initial = await snapshot(root)
    const ledger = new Ledger()
    const host = createHost({ run, services: systemd(run), ledger, ...paths })
    const learned: Learned = p.learned
    await execute([{ ...route, needs: [] }], { host, learned })
    const net = join(paths.sysClassNet, LB_INTERFACE)
    assert.deepEqual(readFileSync(join(net, 'routes'), 'utf8').trim().split('\n'), ['10.9.8.1/32', '10.9.8.2/31', '10.9.8.4/31', '10.9.8.6/32'])
    assert.equal(readFileSync(join(net, 'type'), 'utf8').trim(), 'dummy')
    assert.equal(readFileSync(join(net, 'operstate'), 'utf8').trim(), 'up')
    assert.deepEqual(ledger.changes, [{ kind: 'interface', name: LB_INTERFACE }])
    // again (a step retried, a run over an earlier one's): made afresh, nothing recorded twice, no route twice
    await execute([{ ...route, needs: [] }], { host, learned })
    assert.equal(ledger.changes.length, 1)
    assert.equal(readFileSync(join(net, 'routes'), 'utf8').trim().split('\n').length, 4)
    const report = await undoChanges(ledger.changes, { run, services: systemd(run), procSwaps: paths.procSwaps, sysClassNet: paths.sysClassNet, procMounts: paths.procMounts })
    assert.deepEqual(report.failed, [])
    assert.deepEqual(report.undone, [`network interface ${LB_INTERFACE} (created)`])
    assert.deepEqual(diffSnapshots(initial, await snapshot(root)), [])

    // a route the host gained after the plan, for exactly one of the pool's CIDRs, is not taken
    // over: the step fails, and what it made is undone (the plan refuses a pool any route overlaps)
    await mkdir(join(paths.sysClassNet, 'tun0'), { recursive: true })
    await writeFile(join(paths.sysClassNet, 'tun0', 'routes'), '10.9.8.2/31\n')
    const withVpn = await snapshot(root)
    const second = new Ledger()
    const failure = await execute([{ ...route, needs: [] }], { host: createHost({ run, services: systemd(run), ledger: second, ...paths }), learned }).then(
      () => assert.fail('the step took the route over'),
      (err: Error) => err.message
    )
    assert.match(failure, /File exists/)
    assert.match(hintsFor(loadBalancer.hints, failure).join('\n'), /a route for exactly the address pool's prefix.*Set load-balancer-addresses/)
    assert.deepEqual(second.changes, [{ kind: 'interface', name: LB_INTERFACE }])
    await undoChanges(second.changes, { run, services: systemd(run), procSwaps: paths.procSwaps, sysClassNet: paths.sysClassNet, procMounts: paths.procMounts })
    assert.deepEqual(diffSnapshots(withVpn, await snapshot(root)), [])
  })
})

describe('load-balancer with on-existing: reuse', () => {
  const smoke = { name: 'kubeadm-single-node-smoke', namespace: 'default' }
  const cluster = (svc: unknown, status: number) => {
    const asked: string[][] = []
    const urls: string[] = []
    return {
      asked,
      urls,
      reader: {
        get: async (args: string[]) => (asked.push(args), svc),
        status: async (url: string) => (urls.push(url), status),
        smoke
      }
    }
  }
  const withAddress = { status: { loadBalancer: { ingress: [{ ip: '10.250.250.241' }] } } }

  it("gives load-balancer-ip from the earlier smoke test's LoadBalancer Service where nginx answers on it", async () => {
    const c = cluster(withAddress, 200)
    assert.deepEqual(await loadBalancer.reusedOutputs!(config({ 'load-balancer': 'true' }), c.reader), { 'load-balancer-ip': '10.250.250.241' })
    assert.deepEqual(c.asked, [['service', 'kubeadm-single-node-smoke-lb', '-n', 'default']])
    assert.deepEqual(c.urls, ['http://10.250.250.241/'])
  })

  it('says why where the Service is gone, has no address, or nginx does not answer on it', async () => {
    assert.equal(await loadBalancer.reusedOutputs!(config({ 'load-balancer': 'true' }), cluster(undefined, 200).reader), "the smoke test's Service kubeadm-single-node-smoke-lb is not there")
    assert.equal(await loadBalancer.reusedOutputs!(config({ 'load-balancer': 'true' }), cluster({ status: {} }, 200).reader), "the smoke test's Service kubeadm-single-node-smoke-lb has no LoadBalancer address")
    assert.equal(
      await loadBalancer.reusedOutputs!(config({ 'load-balancer': 'true' }), cluster(withAddress, 0).reader),
      "nginx did not answer 200 on kubeadm-single-node-smoke-lb's address 10.250.250.241 (no answer)"
    )
  })
})
