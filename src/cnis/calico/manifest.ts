// Calico's manifest (projectcalico/calico, manifests/calico.yaml), adjusted to the cluster.
// Its calico-node container creates the default IPv4 pool from CALICO_IPV4POOL_CIDR, which
// the manifest leaves commented out: calico-node then guesses the pool from kubeadm's
// ClusterConfiguration, or else takes 192.168.0.0/16 (the comment above that variable in
// calico.yaml: "This should fall within `--cluster-cidr`"). Set here to kubeadm's podSubnet, the
// pool is exactly the pod network, whatever the guess would have been. Parsed and
// re-serialized as YAML, never edited as text.
import { parseAllDocuments } from 'yaml'
import { toYamlDocuments } from '../../render/yaml.js'

export interface CalicoManifest {
  manifest: string
  /** every image the manifest's pods run, in order of appearance */
  images: string[]
}

type Obj = Record<string, any>

const POOL_CIDR = 'CALICO_IPV4POOL_CIDR'

export function renderCalicoManifest(source: string, podCidr: string): CalicoManifest {
  const images: string[] = []
  const out: Obj[] = []
  let configured = false
  for (const doc of parseAllDocuments(source)) {
    if (doc.errors.length > 0) throw new Error(`the calico manifest is not valid YAML: ${doc.errors[0].message}`)
    const obj = doc.toJS() as Obj | null
    if (!obj) continue
    const spec = obj.spec?.template?.spec
    const containers: Obj[] = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]
    if (obj.kind === 'DaemonSet' && obj.metadata?.name === 'calico-node') {
      const node = (spec?.containers ?? []).find((c: Obj) => c.name === 'calico-node')
      if (node) {
        // one entry: a second of the same name would be read last-wins by the kubelet
        const env: Obj[] = (node.env ?? []).filter((e: Obj) => e.name !== POOL_CIDR)
        env.push({ name: POOL_CIDR, value: podCidr })
        node.env = env
        configured = true
      }
    }
    for (const c of containers) if (typeof c.image === 'string' && !images.includes(c.image)) images.push(c.image)
    out.push(obj)
  }
  if (!configured) throw new Error('the calico manifest has no calico-node DaemonSet with a calico-node container; is it calico.yaml?')
  return { manifest: toYamlDocuments(out), images }
}
