// The objects the load-balancer add-on applies besides MetalLB's own manifest (pure): the
// address pool with its L2 advertisement, and the smoke test's LoadBalancer Service.
import type { AddressPool } from '../../config/inputs.js'
import { poolText } from '../../host/address-pool.js'
import { toYaml, toYamlDocuments } from '../../render/yaml.js'
import { METALLB } from './metallb.js'

export const POOL_NAME = 'kubeadm-single-node'

/**
 * An IPAddressPool holding the pool, and an L2Advertisement of it (metallb.io/v1beta1, the
 * API of the pinned release's CRDs). avoidBuggyIPs is left off: the pool is small and never
 * holds a .0 or .255 that a /24 would make special, unless the user gives one.
 */
export function renderPoolManifest(pool: AddressPool): string {
  const metadata = { name: POOL_NAME, namespace: METALLB.namespace }
  const ipPool = { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata, spec: { addresses: [poolText(pool)] } }
  const l2 = { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata, spec: { ipAddressPools: [POOL_NAME] } }
  return toYamlDocuments([ipPool, l2])
}

/** A LoadBalancer Service in front of the smoke test's nginx: `name`-lb, on port 80. */
export function renderLoadBalancerService(name: string, namespace: string, labels: Record<string, string>): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${name}-lb`, namespace, labels: { ...labels } },
    spec: { type: 'LoadBalancer', selector: { ...labels }, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] }
  })
}
