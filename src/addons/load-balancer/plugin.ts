// load-balancer: type: LoadBalancer Services get an address, reachable from the runner.
//
// Why MetalLB (a pinned release, L2 mode): it is the maintained, general-purpose implementation
// for clusters without a cloud, installed from one manifest with no change to kube-proxy or the
// CNI, and it works on any node, which here is the runner itself. The others weighed:
// - cloud-provider-kind (what kind uses) gives each Service a Docker container as its load
//   balancer and reads kind's node containers: it needs kind's Docker-container nodes;
// - k3s's servicelb (klipper-lb) is built into k3s's own controller, not shipped to run on
//   another distribution;
// - kube-vip's Service load balancer needs its own cloud provider (kube-vip-cloud-provider) for
//   addresses and usually takes over the node's ARP/VIP handling as well: two components where
//   MetalLB is one;
// - OpenELB and PureLB do what MetalLB does with far fewer users; PureLB also adds each address
//   to a host interface itself, a host change no ledger of this action would record.
//
// How the runner reaches an address: the pool is kept off every network of the node (and
// Docker's), so no router or neighbour answers for it, and the speaker's ARP answers on eth0
// reach no one who asks. On the runner, the action routes the pool to a dummy interface of its
// own (ksn-lb0); a connection to a Service's address then leaves by that route, kube-proxy's
// rules (nat OUTPUT, KUBE-SERVICES) rewrite it to a pod, and an address no Service holds goes
// nowhere instead of to the default gateway. Cleanup deletes the interface, and its routes with
// it (src/host/changes/interface.ts). No sysctl is needed: kube-proxy's iptables mode needs no
// strictARP (only IPVS mode does).
import { join } from 'node:path'
import type { AddressPool, Config } from '../../config/inputs.js'
import type { PluginContext } from '../../engine/plugin-context.js'
import { step, type StepContext } from '../../engine/step.js'
import { ADDRESS_POOL_FORMS, DEFAULT_POOLS, parseAddressPool, pickPool, poolCidrs, poolCollisions, poolText, takenNetworks } from '../../host/address-pool.js'
import { dummyInterfaceArgvs } from '../../host/host.js'
import { kubectl, unreadyPods } from '../../kube/kubectl.js'
import { httpStatus, waitUntil } from '../../kube/wait.js'
import type { AddonPlugin, SmokeTarget } from '../types.js'
import { fetchManifest, manifestPin, METALLB, metallbManifestUrl, renderMetallbManifest } from './metallb.js'
import { renderLoadBalancerService, renderPoolManifest } from './resources.js'

const INPUT = 'load-balancer'
const POOL_INPUT = 'load-balancer-addresses'
/** the dummy interface the pool is routed to: ours (ksn-: kubeadm-single-node), at most 15 bytes */
export const LB_INTERFACE = 'ksn-lb0'

/** The pool this run gives out: the one given, or the first default clear of every network here. */
export function resolvePool(p: Pick<PluginContext, 'config' | 'facts'>): AddressPool | undefined {
  return p.config.loadBalancerAddresses ?? pickPool(takenNetworks({ 'pod-network-cidr': p.config.podNetworkCidr, 'service-cidr': p.config.serviceCidr }, p.facts, [LB_INTERFACE]))
}

/** The pool given, against the networks of this host; or, where none was given, whether any default fits. */
export function poolProblems(p: Pick<PluginContext, 'config' | 'facts'>): string[] {
  const taken = takenNetworks({ 'pod-network-cidr': p.config.podNetworkCidr, 'service-cidr': p.config.serviceCidr }, p.facts, [LB_INTERFACE])
  const given = p.config.loadBalancerAddresses
  if (given) {
    const hits = poolCollisions(given, taken)
    if (hits.length === 0) return []
    return [
      `Input '${POOL_INPUT}' has the value ${JSON.stringify(given.given)}, which overlaps ${hits.join(' and ')}: the route the action adds for the pool would take those addresses from their network; accepted: ${ADDRESS_POOL_FORMS}, clear of the pod and Service networks, this runner's networks and Docker's.`
    ]
  }
  if (pickPool(taken)) return []
  return [
    `Input '${POOL_INPUT}' is empty, and every default pool overlaps a network here (${DEFAULT_POOLS.map((d) => `${d}: ${poolCollisions(parseAddressPool(d) as AddressPool, taken).join(' and ')}`).join('; ')}); accepted: ${ADDRESS_POOL_FORMS}, clear of the pod and Service networks, this runner's networks and Docker's.`
  ]
}

/** The deadline every wait of the run shares, started by whichever waits first (as phases/ready.ts does). */
function deadline(ctx: StepContext, timeoutSeconds: number): number {
  ctx.learned.deadline ??= Date.now() + timeoutSeconds * 1000
  return ctx.learned.deadline
}

function files(p: PluginContext): { manifest: string; pool: string; service: string } {
  return { manifest: join(p.paths.stateDir, 'metallb.yaml'), pool: join(p.paths.stateDir, 'metallb-pool.yaml'), service: join(p.paths.stateDir, 'smoke-lb.yaml') }
}

export const loadBalancer: AddonPlugin = {
  input: INPUT,
  enabled: (config) => config.loadBalancer,
  describe: (config) => `MetalLB ${METALLB.version} (L2), addresses ${config.loadBalancerAddresses ? poolText(config.loadBalancerAddresses) : 'from a default pool clear of this host'}`,
  images: () => [...METALLB.images],
  problems: (p) => [
    ...(p.config.cni === 'none'
      ? [
          `Inputs '${INPUT}' ('true') and 'cni' ('none') do not go together: MetalLB's controller is an ordinary pod, which waits for a pod network that cni 'none' leaves to the workflow, after the action has waited for MetalLB; accepted: load-balancer with cni 'flannel', 'calico' or 'bridge', or load-balancer 'false' (install MetalLB with your own CNI).`
        ]
      : []),
    ...poolProblems(p)
  ],
  downloads: (config: Config) => [{ what: `the MetalLB manifest ${METALLB.version}`, url: metallbManifestUrl(config.githubUrl), input: 'github-url' }],

  steps(p) {
    const { config, bin, kubeEnv } = p
    const f = files(p)
    const url = metallbManifestUrl(config.githubUrl)
    const pin = manifestPin(url)
    // a pool that cannot be resolved is an input problem the plan's caller refuses first
    const pool = resolvePool(p) ?? { given: '', first: '0.0.0.0', last: '0.0.0.0' }
    const cidrs = poolCidrs(pool)
    const k = bin('kubectl')
    return [
      step('addons.load-balancer-manifest', `MetalLB ${METALLB.version} manifest`, [], [
        {
          kind: 'task',
          title: 'fetch, verify and render the MetalLB manifest',
          shows: [
            `GET ${url}`,
            pin ? `verify SHA-256 ${pin} (pinned for MetalLB ${METALLB.version})` : `no pinned digest checked: ${url} is on this machine, the user's own`,
            `speaker: add --ignore-exclude-lb (kubeadm labels its control-plane node exclude-from-external-load-balancers)${config.untaint ? '' : '; controller: tolerate the control-plane taint (untaint: false)'}`,
            `write ${f.manifest}`,
            `images: ${METALLB.images.join(' ')}`
          ],
          writes: [{ path: f.manifest, render: () => `# MetalLB ${METALLB.version}'s manifest, read at run time from ${url}${pin ? `, SHA-256 ${pin}` : ''}\n` }],
          run: async (ctx) => {
            const text = await fetchManifest(url, pin)
            if (pin) ctx.log('verified the MetalLB manifest against its pinned SHA-256')
            const rendered = renderMetallbManifest(text, { tolerateControlPlane: !config.untaint })
            await ctx.host.writeFile(f.manifest, rendered.manifest)
            ctx.log(`manifest images: ${rendered.images.join(', ')}`)
          }
        }
      ]),
      step('addons.load-balancer-route', `route ${poolText(pool)} to ${LB_INTERFACE} on the runner`, ['host.kernel'], [
        {
          kind: 'task',
          title: `dummy interface ${LB_INTERFACE} with a route to the pool`,
          shows: [
            ...dummyInterfaceArgvs(LB_INTERFACE, cidrs).map((a) => `$ sudo ${a.join(' ')}`),
            `(recorded first: cleanup deletes ${LB_INTERFACE}, and its routes with it; kube-proxy's rules take a connection to a Service's address from there to a pod)`
          ],
          run: async (ctx) => {
            await ctx.host.addDummyInterface(LB_INTERFACE, cidrs)
            ctx.log(`${cidrs.join(', ')} routed to ${LB_INTERFACE}`)
          }
        }
      ]),
      // as soon as the API answers: the controller waits for the pod network like any pod, and
      // its images are already in the store
      step('addons.load-balancer-apply', 'apply MetalLB', ['init.kubeconfig', 'addons.load-balancer-manifest'], [{ kind: 'exec', argv: [k, 'apply', '-f', f.manifest], env: kubeEnv }]),
      step('addons.load-balancer-ready', 'MetalLB controller and speaker ready', ['addons.load-balancer-apply'], [
        {
          kind: 'task',
          title: `wait for deployment/${METALLB.controller} and daemonset/${METALLB.speaker} in ${METALLB.namespace}`,
          shows: [`$ kubectl get deployment ${METALLB.controller} daemonset ${METALLB.speaker} -n ${METALLB.namespace} -o json   (until both are ready, within the deadline)`],
          run: async (ctx) => {
            const kc = kubectl(ctx.host.run, k, p.files.kubeconfig)
            await waitUntil(
              'MetalLB controller and speaker to be ready',
              deadline(ctx, config.timeoutSeconds),
              async (observe) => {
                const d = await kc.json(['get', 'deployment', METALLB.controller, '-n', METALLB.namespace])
                const ds = await kc.json(['get', 'daemonset', METALLB.speaker, '-n', METALLB.namespace])
                const available = Number(d.status?.availableReplicas ?? 0)
                const desired = Number(ds.status?.desiredNumberScheduled ?? 0)
                const ready = Number(ds.status?.numberReady ?? 0)
                observe(`controller ${available} available; speaker ${ready}/${desired} ready`)
                return available >= 1 && desired >= 1 && ready >= desired ? true : undefined
              },
              { explain: async () => `MetalLB pods: ${unreadyPods((await kc.json(['get', 'pods', '-n', METALLB.namespace])).items).join('; ') || 'Ready'}` }
            )
            ctx.log('MetalLB is ready')
          }
        }
      ]),
      step('addons.load-balancer-pool', `address pool ${poolText(pool)}, announced in L2 mode`, ['addons.load-balancer-ready'], [
        { kind: 'write', path: f.pool, render: () => renderPoolManifest(pool) },
        {
          kind: 'task',
          title: `kubectl apply -f ${f.pool}`,
          shows: [`$ kubectl apply -f ${f.pool}   (again until MetalLB's webhook, served by the controller, accepts it)`],
          run: async (ctx) => {
            await waitUntil('MetalLB to accept the address pool', deadline(ctx, config.timeoutSeconds), async (observe) => {
              const r = await ctx.host.run([k, 'apply', '-f', f.pool], { env: kubeEnv, allowFailure: true })
              observe((r.stderr || r.stdout).trim().split('\n').slice(-2).join(' '))
              return r.exitCode === 0 ? true : undefined
            })
            ctx.log(`pool ${poolText(pool)} applied`)
          }
        }
      ])
    ]
  },

  smokeSteps(p, smoke: SmokeTarget) {
    const { config, bin, kubeEnv } = p
    const f = files(p)
    const k = bin('kubectl')
    const name = `${smoke.name}-lb`
    return [
      step('smoke.load-balancer', 'nginx answers 200 on a LoadBalancer Service address', [smoke.deployStep, 'addons.load-balancer-pool'], [
        { kind: 'write', path: f.service, render: () => renderLoadBalancerService(smoke.name, smoke.namespace, smoke.labels) },
        { kind: 'exec', argv: [k, 'apply', '-f', f.service], env: kubeEnv },
        {
          kind: 'task',
          title: `HTTP GET http://<${name}'s address>/ until 200`,
          shows: [`$ kubectl get service ${name} -n ${smoke.namespace} -o json   (until status.loadBalancer.ingress has an address)`, 'GET http://<that address>/ until it answers 200, within the deadline', 'output load-balancer-ip: that address'],
          run: async (ctx) => {
            const kc = kubectl(ctx.host.run, k, p.files.kubeconfig)
            let url = ''
            const ip = await waitUntil(`nginx to answer 200 on ${name}'s LoadBalancer address`, deadline(ctx, config.timeoutSeconds), async (observe) => {
              const svc = await kc.json(['get', 'service', name, '-n', smoke.namespace])
              const addr = svc.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined
              if (!addr) {
                observe(`service ${name} has no address yet`)
                return undefined
              }
              url = `http://${addr}/`
              const status = await httpStatus(url)
              observe(`HTTP ${status} from ${url}`)
              return status === 200 ? addr : undefined
            })
            ctx.learned.loadBalancerIp = ip
            ctx.log(`${url} answered 200`)
          }
        }
      ])
    ]
  },

  async reusedOutputs(_config, cluster) {
    const name = `${cluster.smoke.name}-lb`
    const svc = await cluster.get(['service', name, '-n', cluster.smoke.namespace])
    const ip = svc?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined
    if (!ip) return `the smoke test's Service ${name} ${svc ? 'has no LoadBalancer address' : 'is not there'}`
    const status = await cluster.status(`http://${ip}/`)
    return status === 200 ? { 'load-balancer-ip': ip } : `nginx did not answer 200 on ${name}'s address ${ip} (${status ? `HTTP ${status}` : 'no answer'})`
  },

  diagnostics: (_paths, kubectlBin, kubeconfig) => {
    const env = { KUBECONFIG: kubeconfig }
    const requires = [kubectlBin, kubeconfig]
    return [
      { title: 'MetalLB pods', argv: [kubectlBin, 'get', 'pods', '-n', METALLB.namespace, '-o', 'wide'], env, requires },
      { title: 'MetalLB pools and advertisements', argv: [kubectlBin, 'get', 'ipaddresspools.metallb.io,l2advertisements.metallb.io', '-A', '-o', 'yaml'], env, requires },
      { title: 'LoadBalancer Services', argv: [kubectlBin, 'get', 'services', '-A', '--field-selector', 'spec.type=LoadBalancer', '-o', 'wide'], env, requires },
      { title: 'MetalLB controller log', argv: [kubectlBin, 'logs', '-n', METALLB.namespace, `deployment/${METALLB.controller}`, '--tail', '50'], env, requires },
      { title: `routes to ${LB_INTERFACE}`, argv: ['ip', '-4', 'route', 'show', 'dev', LB_INTERFACE] }
    ]
  },

  hints: [
    {
      pattern: /webhook\.metallb\.io|metallb-webhook-service/,
      hint: "MetalLB's admission webhook is served by its controller: until that pod is ready (it needs the pod network) the address pool is refused. See the MetalLB pods above."
    },
    {
      pattern: /RTNETLINK answers: File exists/,
      hint: `The host has a route for exactly the address pool's prefix (\`ip -4 route\`), made since the plan held the pool against the host's routes: the action adds its own routes and never replaces one. Set ${POOL_INPUT} to addresses no route of the host covers.`
    },
    {
      pattern: /has no address yet/,
      hint: `No LoadBalancer address was given out: check the pool (input ${POOL_INPUT}) in "MetalLB pools and advertisements" and the controller's log above; a pool with every address taken leaves new Services pending.`
    }
  ]
}
