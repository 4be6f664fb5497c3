// kubeadm's config file. Pure: values in, YAML out, rendered by a real serializer. The
// action's own documents come first; kubeadm-config's are laid over them as merge patches
// (src/render/merge-patch.ts), then feature-gates is given to every component.
import { toYaml } from './yaml.js'
import { featureGatesFlag, type FeatureGate, type KubeadmKind, type KubeadmPatch } from '../config/kubeadm-config.js'
import { kubeadmApiVersion, type KubeadmApi } from '../config/kubernetes.js'
import { isMap, mergePatch } from './merge-patch.js'

export interface KubeadmConfigOptions {
  kubernetesVersion: string
  /** the API kubeadm itself defaults to (`config print init-defaults`); the version table's where not given */
  apiVersion?: KubeadmApi
  criSocket: string
  podSubnet: string
  serviceSubnet: string
  imageRepository: string
  untaint: boolean
  /** the one-node settings in FAST_START, where kubeadm-config does not set them itself */
  fastStart?: boolean
  /** feature-gates: given to the API server, controller manager, scheduler and kubelet */
  featureGates?: readonly FeatureGate[]
  /** kubeadm-config's documents, at most one per kind */
  patches?: readonly KubeadmPatch[]
  /**
   * kubelet flags that have no KubeletConfiguration field (the image credential provider's),
   * given through InitConfiguration's nodeRegistration.kubeletExtraArgs: kubeadm writes them to
   * the kubelet's kubeadm-flags.env, which its systemd drop-in passes on the command line
   */
  kubeletArgs?: ReadonlyArray<{ name: string; value: string }>
}

/** kubeadm's default control-plane taint, kept when untaint is false. */
export const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }

export const KUBELET_API = 'kubelet.config.k8s.io/v1beta1'
export const KUBE_PROXY_API = 'kubeproxy.config.k8s.io/v1alpha1'

/**
 * What fast-start sets for a throwaway single node. etcd's --unsafe-no-fsync (etcd v3.5.0 on,
 * etcd-io/etcd CHANGELOG-3.5 and server/etcdmain/config.go: "Disables fsync, unsafe, will cause
 * data loss"; every etcd kubeadm runs for 1.28 and later is 3.5.9 or newer) stops etcd waiting
 * for the disk on every write, which a CI runner's disk makes slow; kind users set it the same
 * way (ClusterConfiguration etcd.local.extraArgs). A node that crashes loses its etcd data: a
 * test cluster is rebuilt anyway.
 */
export const FAST_START = { etcdArgs: [{ name: 'unsafe-no-fsync', value: 'true' }] } as const

/** The control-plane components that take --feature-gates through ClusterConfiguration extraArgs. */
export const GATED_COMPONENTS = ['apiServer', 'controllerManager', 'scheduler'] as const

type Doc = Record<string, unknown>

/** The action's own documents, before kubeadm-config and feature-gates. */
function ownDocuments(o: KubeadmConfigOptions): Record<'InitConfiguration' | 'ClusterConfiguration' | 'KubeletConfiguration', Doc> {
  const apiVersion = o.apiVersion ?? kubeadmApiVersion(o.kubernetesVersion)
  const v1beta4 = apiVersion.endsWith('v1beta4')
  const nodeRegistration: Doc = {
    criSocket: o.criSocket,
    // An explicit empty list means "no taint"; omitting the field means kubeadm's default taint.
    taints: o.untaint ? [] : [CONTROL_PLANE_TAINT]
  }
  if (v1beta4) nodeRegistration.imagePullSerial = false
  return {
    InitConfiguration: { apiVersion, kind: 'InitConfiguration', nodeRegistration },
    ClusterConfiguration: {
      apiVersion,
      kind: 'ClusterConfiguration',
      kubernetesVersion: o.kubernetesVersion,
      imageRepository: o.imageRepository,
      networking: { podSubnet: o.podSubnet, serviceSubnet: o.serviceSubnet }
    },
    KubeletConfiguration: { apiVersion: KUBELET_API, kind: 'KubeletConfiguration', cgroupDriver: 'systemd' }
  }
}

/**
 * Each kind's document with kubeadm-config laid over it, before feature-gates. A kind the
 * action does not render (KubeProxyConfiguration) is kubeadm-config's document alone.
 */
export function mergedDocuments(o: KubeadmConfigOptions): Map<KubeadmKind, Doc> {
  const docs = new Map<KubeadmKind, Doc>(Object.entries(ownDocuments(o)) as Array<[KubeadmKind, Doc]>)
  for (const p of o.patches ?? []) {
    const own = docs.get(p.kind) ?? { apiVersion: KUBE_PROXY_API, kind: p.kind }
    // kind and apiVersion stay the action's: a different apiVersion is refused, not merged
    const { apiVersion, kind } = own
    docs.set(p.kind, { ...(mergePatch(own, p.fields) as Doc), apiVersion, kind })
  }
  return docs
}

/** The argument list, in the form the kubeadm API version takes, with --feature-gates added. */
function withFeatureGatesArg(args: unknown, flag: string, v1beta4: boolean): unknown {
  // v1beta4 made extraArgs a list of {name, value} (kubeadm's v1beta4 doc.go); v1beta3 has a map
  if (v1beta4) return [...(Array.isArray(args) ? args : []), { name: 'feature-gates', value: flag }]
  return { ...(isMap(args) ? args : {}), 'feature-gates': flag }
}

/** An argument list (kubeletExtraArgs, a component's extraArgs) with these added, in the form the kubeadm API version takes (as withFeatureGatesArg). */
function withKubeletArgs(args: unknown, added: ReadonlyArray<{ name: string; value: string }>, v1beta4: boolean): unknown {
  if (v1beta4) return [...(Array.isArray(args) ? args : []), ...added.map((a) => ({ name: a.name, value: a.value }))]
  return { ...(isMap(args) ? args : {}), ...Object.fromEntries(added.map((a) => [a.name, a.value])) }
}

/**
 * FAST_START's etcd arguments added to a local etcd's extraArgs, each unless kubeadm-config
 * already names it (so `unsafe-no-fsync: "false"` there wins); none for an external etcd,
 * which is not the action's to tune.
 */
function withFastStart(cluster: Doc): void {
  const etcd = isMap(cluster.etcd) ? { ...cluster.etcd } : {}
  if (etcd.external !== undefined) return
  const local = isMap(etcd.local) ? { ...etcd.local } : {}
  const v1beta4 = String(cluster.apiVersion).endsWith('v1beta4')
  const args = local.extraArgs
  const named = (n: string): boolean => (Array.isArray(args) ? args.some((a) => isMap(a) && a.name === n) : isMap(args) && n in args)
  const added = FAST_START.etcdArgs.filter((a) => !named(a.name))
  if (added.length === 0) return
  local.extraArgs = withKubeletArgs(args, added, v1beta4)
  etcd.local = local
  cluster.etcd = etcd
}

/** The documents kubeadm reads, in order: Init, Cluster, Kubelet, then KubeProxy if given. */
export function kubeadmDocuments(o: KubeadmConfigOptions): Doc[] {
  const docs = mergedDocuments(o)
  // after kubeadm-config's merge patch, which replaces a list whole: its arguments stay, these are added
  if (o.kubeletArgs?.length) {
    const init = docs.get('InitConfiguration')!
    const nodeRegistration = isMap(init.nodeRegistration) ? { ...init.nodeRegistration } : {}
    nodeRegistration.kubeletExtraArgs = withKubeletArgs(nodeRegistration.kubeletExtraArgs, o.kubeletArgs, String(init.apiVersion).endsWith('v1beta4'))
    init.nodeRegistration = nodeRegistration
  }
  if (o.fastStart) withFastStart(docs.get('ClusterConfiguration')!)
  const gates = o.featureGates ?? []
  if (gates.length > 0) {
    const cluster = docs.get('ClusterConfiguration')!
    const v1beta4 = String(cluster.apiVersion).endsWith('v1beta4')
    const flag = featureGatesFlag(gates)
    for (const c of GATED_COMPONENTS) {
      const component = isMap(cluster[c]) ? { ...cluster[c] } : {}
      component.extraArgs = withFeatureGatesArg(component.extraArgs, flag, v1beta4)
      cluster[c] = component
    }
    const kubelet = docs.get('KubeletConfiguration')!
    kubelet.featureGates = { ...(isMap(kubelet.featureGates) ? kubelet.featureGates : {}), ...Object.fromEntries(gates.map((g) => [g.name, g.enabled])) }
  }
  return [...docs.values()]
}

export function renderKubeadmConfig(o: KubeadmConfigOptions): string {
  return kubeadmDocuments(o)
    .map((doc) => toYaml(doc))
    .join('---\n')
}
