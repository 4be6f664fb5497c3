// What kubeadm-config may not do, checked against the configuration the action renders for
// the resolved Kubernetes version, before anything changes: speak another kubeadm API
// version, change a field an input owns, give feature gates a second way, take a shape the
// API version does not read, or move what kubeadm relies on. One sentence per problem,
// naming both inputs where two collide.
import type { KubeadmKind, KubeadmPatch } from '../config/kubeadm-config.js'
import { kubeadmApiVersion } from '../config/kubernetes.js'
import { CONTROL_PLANE_TAINT, GATED_COMPONENTS, mergedDocuments, type KubeadmConfigOptions } from './kubeadm.js'
import { isMap, sameJson, touches, valueAt } from './merge-patch.js'

interface Owned {
  kind: KubeadmKind
  path: string[]
  input: string
  value: (o: KubeadmConfigOptions) => unknown
  /** why the input's value must stand */
  why: string
  /** the field may also be left out (kubeadm then derives it from the input's value) */
  optional?: boolean
  same?: (a: unknown, b: unknown) => boolean
}

const noV = (v: unknown): unknown => (typeof v === 'string' ? v.replace(/^v/, '') : v)

/** Fields the action sets from an input (or needs as they are), and the input that sets them. */
const OWNED: readonly Owned[] = [
  { kind: 'InitConfiguration', path: ['nodeRegistration', 'criSocket'], input: 'container-runtime', value: (o) => o.criSocket, why: 'the runtime the action sets up answers there' },
  { kind: 'InitConfiguration', path: ['nodeRegistration', 'taints'], input: 'untaint', value: (o) => (o.untaint ? [] : [CONTROL_PLANE_TAINT]), why: 'untaint decides the taints' },
  { kind: 'ClusterConfiguration', path: ['kubernetesVersion'], input: 'kubernetes-version', value: (o) => o.kubernetesVersion, why: 'the binaries and images are that release', same: (a, b) => noV(a) === noV(b) },
  { kind: 'ClusterConfiguration', path: ['imageRepository'], input: 'image-repository', value: (o) => o.imageRepository, why: "kubeadm's images are preloaded from it" },
  { kind: 'ClusterConfiguration', path: ['networking', 'podSubnet'], input: 'pod-network-cidr', value: (o) => o.podSubnet, why: 'it also configures the CNI' },
  { kind: 'ClusterConfiguration', path: ['networking', 'serviceSubnet'], input: 'service-cidr', value: (o) => o.serviceSubnet, why: 'it was checked against the pod network' },
  // the runtime is configured for the systemd cgroup driver (runc SystemdCgroup = true); a
  // kubelet on cgroupfs would disagree with it and restart the static pods
  { kind: 'KubeletConfiguration', path: ['cgroupDriver'], input: 'container-runtime', value: () => 'systemd', why: 'the runtime is set up with the systemd cgroup driver' },
  { kind: 'KubeletConfiguration', path: ['containerRuntimeEndpoint'], input: 'container-runtime', value: (o) => o.criSocket, why: 'the runtime the action sets up answers there', optional: true },
  // kubeadm derives kube-proxy's clusterCIDR from podSubnet (v1beta4 doc.go: "enforcing
  // consistency of values across components ... clusterCIDR on kube-proxy")
  { kind: 'KubeProxyConfiguration', path: ['clusterCIDR'], input: 'pod-network-cidr', value: (o) => o.podSubnet, why: 'it also configures the CNI', optional: true }
]

const V3 = 'kubeadm.k8s.io/v1beta3'
const V4 = 'kubeadm.k8s.io/v1beta4'

/**
 * Fields one kubeadm API version has and the other does not. kubeadm decodes strictly but
 * only warns about an unknown field, so a field of the other version would be dropped
 * silently. Sources: the v1beta4 reference's "changes since v1beta3" (kubernetes.io,
 * kubeadm-config.v1beta4), kubernetes/kubernetes PR #122529 (the Timeouts struct, which
 * replaces apiServer.timeoutForControlPlane).
 */
const ONLY_IN: ReadonlyArray<{ kind: KubeadmKind; path: string[]; api: string; instead?: string }> = [
  { kind: 'InitConfiguration', path: ['timeouts'], api: V4, instead: 'apiServer.timeoutForControlPlane in ClusterConfiguration' },
  { kind: 'InitConfiguration', path: ['nodeRegistration', 'imagePullSerial'], api: V4 },
  { kind: 'ClusterConfiguration', path: ['encryptionAlgorithm'], api: V4 },
  { kind: 'ClusterConfiguration', path: ['apiServer', 'timeoutForControlPlane'], api: V3, instead: 'timeouts.controlPlaneComponentHealthCheck in InitConfiguration' }
]

/** The extra-argument fields kubeadm reads, by kind (v1beta4 doc.go lists the same five). */
const EXTRA_ARGS: ReadonlyArray<{ kind: KubeadmKind; path: string[] }> = [
  ...GATED_COMPONENTS.map((c) => ({ kind: 'ClusterConfiguration' as const, path: [c, 'extraArgs'] })),
  { kind: 'ClusterConfiguration', path: ['etcd', 'local', 'extraArgs'] },
  { kind: 'InitConfiguration', path: ['nodeRegistration', 'kubeletExtraArgs'] }
]

/**
 * kubeadm writes the control plane's static pods to /etc/kubernetes/manifests and warns, but
 * goes on, when the kubelet watches elsewhere (cmd/kubeadm/app/componentconfigs/kubelet.go,
 * Default: staticPodPath); that kubelet would never start them.
 */
const STATIC_POD_PATH = '/etc/kubernetes/manifests'

// A DNS-1123 subdomain, as k8s.io/apimachinery's IsDNS1123Subdomain checks it.
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const isSubdomain = (v: unknown): boolean => typeof v === 'string' && v.length <= 253 && DNS1123_SUBDOMAIN_RE.test(v)

/**
 * Rules of kubeadm's own validation (cmd/kubeadm/app/apis/kubeadm/validation/validation.go)
 * cheap to ask before anything changes, where kubeadm init would refuse the file only after
 * the host is set up: ValidateNetworking (dnsDomain), ValidateClusterConfiguration
 * (certificatesDir through ValidateAbsolutePath), ValidateNodeRegistrationOptions (name
 * through ValidateNodeName).
 */
const KUBEADM_RULES: ReadonlyArray<{ kind: KubeadmKind; path: string[]; ok: (v: unknown) => boolean; accepted: string }> = [
  { kind: 'ClusterConfiguration', path: ['networking', 'dnsDomain'], ok: isSubdomain, accepted: "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), such as 'cluster.local'" },
  { kind: 'ClusterConfiguration', path: ['certificatesDir'], ok: (v) => typeof v === 'string' && v.startsWith('/'), accepted: "an absolute path, such as '/etc/kubernetes/pki'" },
  { kind: 'InitConfiguration', path: ['nodeRegistration', 'name'], ok: isSubdomain, accepted: 'a DNS-1123 subdomain, as a node name must be' }
]

/**
 * kubeadm's own directories (cmd/kubeadm/app/constants/constants.go: KubernetesDir,
 * KubeletRunDirectory; the v1beta3/v1beta4 default etcd.local.dataDir). Cleanup's kubeadm
 * reset empties them anyway.
 */
export const KUBEADM_DIRS = ['/etc/kubernetes', '/var/lib/etcd', '/var/lib/kubelet'] as const

/**
 * The kubeadm-config fields naming a directory that kubeadm reset empties, as root, at
 * cleanup (kubernetes/kubernetes at 0738386a25a2, cmd/kubeadm/app/cmd/phases/reset/
 * cleanupnode.go: runCleanupNode empties /etc/kubernetes/manifests, /var/lib/kubelet,
 * /etc/kubernetes/tmp and the certificates directory, r.CertificatesDir(), then deletes the
 * kubeconfig files in /etc/kubernetes; removeetcdmember.go: getEtcdDataDir takes
 * etcd.local.dataDir from the configuration, else from the etcd static pod's data volume
 * that kubeadm init wrote from it, and CleanDir empties it). The other directories are
 * constants; these two come from the configuration, so `certificatesDir: /etc` would have
 * cleanup empty /etc. Each must lie in one of kubeadm's own directories.
 */
const RESET_EMPTIES: ReadonlyArray<{ kind: KubeadmKind; path: string[] }> = [
  { kind: 'ClusterConfiguration', path: ['certificatesDir'] },
  { kind: 'ClusterConfiguration', path: ['etcd', 'local', 'dataDir'] }
]

/** Whether `dir` is one of kubeadm's directories or below one, written plainly (absolute, no '.', '..' or '//'). */
function inKubeadmDirs(dir: string): boolean {
  if (!dir.startsWith('/') || dir.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')) return false
  return KUBEADM_DIRS.some((d) => dir === d || dir.startsWith(`${d}/`))
}

const show = (v: unknown): string => (v === undefined ? 'nothing (removed)' : JSON.stringify(v))
const dotted = (path: readonly string[]): string => path.join('.')

/** Whether extraArgs is in the shape `api` reads: a map of strings, or a list of {name, value} strings. */
function extraArgsShapeOk(args: unknown, api: string): boolean {
  if (api === V4) return Array.isArray(args) && args.every((a) => isMap(a) && typeof a.name === 'string' && typeof a.value === 'string' && Object.keys(a).length === 2)
  return isMap(args) && Object.values(args).every((v) => typeof v === 'string')
}

/** Whether --feature-gates is among the arguments, in either shape. */
function hasFeatureGatesArg(args: unknown): boolean {
  if (Array.isArray(args)) return args.some((a) => isMap(a) && a.name === 'feature-gates')
  return isMap(args) && 'feature-gates' in args
}

/**
 * Every problem with kubeadm-config (and its meeting with feature-gates) for this rendering;
 * empty when the merged configuration may be written. `source` names kubeadm-config in the
 * messages, with its file where it came from one.
 */
export function kubeadmConfigProblems(o: KubeadmConfigOptions, source = "'kubeadm-config'"): string[] {
  const patches: readonly KubeadmPatch[] = o.patches ?? []
  const problems: string[] = []
  const api = kubeadmApiVersion(o.kubernetesVersion)
  const label = (p: KubeadmPatch): string => `document ${p.doc} (${p.kind})`
  const merged = mergedDocuments(o)
  const gates = o.featureGates ?? []

  for (const p of patches) {
    if (p.apiVersion?.startsWith('kubeadm.k8s.io/') && p.apiVersion !== api) {
      problems.push(
        `Inputs ${source} and 'kubernetes-version' conflict: ${label(p)} has apiVersion ${p.apiVersion}, but Kubernetes ${o.kubernetesVersion} is configured with ${api}; accepted: apiVersion ${api}, or none (the action's own then applies).`
      )
    }
    for (const f of OWNED.filter((x) => x.kind === p.kind)) {
      if (!touches(p.fields, f.path)) continue
      const now = valueAt(merged.get(p.kind), f.path)
      const want = f.value(o)
      if ((f.same ?? sameJson)(now, want) || (f.optional && now === undefined)) continue
      problems.push(
        `Inputs ${source} and '${f.input}' conflict: ${label(p)} makes ${dotted(f.path)} ${show(now)}, but '${f.input}' gives ${JSON.stringify(want)} (${f.why}); accepted: ${dotted(f.path)} left out of kubeadm-config or equal to that, with '${f.input}' set instead.`
      )
    }
    for (const f of ONLY_IN.filter((x) => x.kind === p.kind && x.api !== api)) {
      if (valueAt(p.fields, f.path) === undefined) continue
      problems.push(
        `Inputs ${source} and 'kubernetes-version' conflict: ${label(p)} sets ${dotted(f.path)}, which only ${f.api} has, but Kubernetes ${o.kubernetesVersion} is configured with ${api}, where kubeadm would ignore it; accepted: fields of ${api}${f.instead ? ` (there: ${f.instead})` : ''}.`
      )
    }
    for (const r of KUBEADM_RULES.filter((x) => x.kind === p.kind)) {
      const v = valueAt(p.fields, r.path)
      if (v !== undefined && v !== null && !r.ok(v)) problems.push(`Input ${source} has ${label(p)} ${dotted(r.path)} ${show(v)}, which kubeadm refuses; accepted: ${r.accepted}.`)
    }
    for (const r of RESET_EMPTIES.filter((x) => x.kind === p.kind)) {
      const v = valueAt(p.fields, r.path)
      if (v === undefined || v === null || (typeof v === 'string' && inKubeadmDirs(v.replace(/\/+$/, '')))) continue
      // one refusal per field: a relative certificatesDir is kubeadm's own refusal above
      if (KUBEADM_RULES.some((k) => k.kind === p.kind && sameJson(k.path, r.path) && !k.ok(v))) continue
      problems.push(
        `Input ${source} has ${label(p)} ${dotted(r.path)} ${show(v)}, a directory that cleanup's kubeadm reset empties as root; accepted: an absolute path written without '.', '..' or '//', in one of kubeadm's own directories: ${KUBEADM_DIRS.join(', ')} (or the field left out: ${r.path[0] === 'certificatesDir' ? '/etc/kubernetes/pki' : '/var/lib/etcd'}).`
      )
    }
    if (p.kind === 'KubeletConfiguration' && touches(p.fields, ['staticPodPath'])) {
      const now = valueAt(merged.get(p.kind), ['staticPodPath'])
      if (now !== undefined && now !== STATIC_POD_PATH) {
        problems.push(
          `Input ${source} has ${label(p)} staticPodPath ${show(now)}; accepted: ${STATIC_POD_PATH} or none, where kubeadm writes the control plane's static pods (a kubelet watching elsewhere never starts them).`
        )
      }
    }
  }

  for (const f of EXTRA_ARGS) {
    const p = patches.find((x) => x.kind === f.kind)
    if (!p || !touches(p.fields, f.path)) continue
    const args = valueAt(merged.get(f.kind), f.path)
    if (args === undefined || extraArgsShapeOk(args, api)) continue
    const form = api === V4 ? "a list of {name, value} entries, both strings, such as '- {name: v, value: \"4\"}'" : "a map of flag names to string values, such as 'v: \"4\"'"
    problems.push(`Inputs ${source} and 'kubernetes-version' conflict: ${label(p)} gives ${dotted(f.path)} as ${show(args)}, but Kubernetes ${o.kubernetesVersion} is configured with ${api}; accepted: ${form}.`)
  }

  const kubeletPatch = patches.find((x) => x.kind === 'KubeletConfiguration')
  const kubeletGates = valueAt(merged.get('KubeletConfiguration'), ['featureGates'])
  if (kubeletPatch && kubeletGates !== undefined && !(isMap(kubeletGates) && Object.values(kubeletGates).every((v) => typeof v === 'boolean'))) {
    problems.push(`Input ${source} has ${label(kubeletPatch)} featureGates ${show(kubeletGates)}; accepted: a map of gate names to true or false.`)
  }

  if (gates.length > 0) {
    const gatesConflict = (where: string, what: string): void =>
      void problems.push(`Inputs ${source} and 'feature-gates' conflict: ${where} ${what}; accepted: each gate in one of them (feature-gates gives its gates to the API server, controller manager, scheduler and kubelet).`)
    const cluster = patches.find((x) => x.kind === 'ClusterConfiguration')
    for (const c of GATED_COMPONENTS) {
      if (cluster && hasFeatureGatesArg(valueAt(merged.get('ClusterConfiguration'), [c, 'extraArgs']))) gatesConflict(label(cluster), `gives ${c}.extraArgs a feature-gates flag of its own, which feature-gates' would replace or repeat`)
    }
    const init = patches.find((x) => x.kind === 'InitConfiguration')
    if (init && hasFeatureGatesArg(valueAt(merged.get('InitConfiguration'), ['nodeRegistration', 'kubeletExtraArgs']))) {
      gatesConflict(label(init), 'gives nodeRegistration.kubeletExtraArgs a feature-gates flag, which would override the kubelet configuration feature-gates writes')
    }
    if (kubeletPatch && isMap(kubeletGates)) {
      for (const g of gates) {
        const theirs = kubeletGates[g.name]
        if (typeof theirs === 'boolean' && theirs !== g.enabled) gatesConflict(label(kubeletPatch), `sets featureGates.${g.name} to ${theirs}, feature-gates to ${g.enabled}`)
      }
    }
  }
  return problems
}
