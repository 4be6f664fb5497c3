// Flannel's release manifest, adjusted to the cluster: its net-conf Network must equal
// kubeadm's podSubnet, or flannel refuses the node's podCIDR. Parsed and re-serialized
// as YAML (and the embedded net-conf.json as JSON), never edited as text.
import { parseAllDocuments } from 'yaml'
import { toYamlDocuments } from '../../render/yaml.js'

export interface FlannelManifest {
  manifest: string
  /** every image the manifest's pods run, in order of appearance */
  images: string[]
}

export function renderFlannelManifest(source: string, podCidr: string): FlannelManifest {
  const docs = parseAllDocuments(source)
  const images: string[] = []
  let configured = false
  const out: unknown[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`the flannel manifest is not valid YAML: ${doc.errors[0].message}`)
    const obj = doc.toJS() as Record<string, any> | null
    if (!obj) continue
    if (obj.kind === 'ConfigMap' && typeof obj.data?.['net-conf.json'] === 'string') {
      const net = JSON.parse(obj.data['net-conf.json'])
      net.Network = podCidr
      obj.data['net-conf.json'] = `${JSON.stringify(net, null, 2)}\n`
      configured = true
    }
    const spec = obj.spec?.template?.spec
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      if (typeof c.image === 'string' && !images.includes(c.image)) images.push(c.image)
    }
    out.push(obj)
  }
  if (!configured) throw new Error('the flannel manifest has no ConfigMap with net-conf.json; is it kube-flannel.yml?')
  return { manifest: toYamlDocuments(out), images }
}
