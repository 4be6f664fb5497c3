// The two pass-through inputs, read into values: kubeadm-config (YAML documents laid over
// the kubeadm configuration the action renders) and feature-gates (minikube's
// `--feature-gates=Name=true,Other=false`). What can be known from the text alone is checked
// here; what depends on the resolved Kubernetes version or on the other inputs is checked
// against the rendered configuration (src/render/kubeadm.ts, kubeadmConfigProblems).
import { parseAllDocuments } from 'yaml'
import { isMap } from '../render/merge-patch.js'

/**
 * The kinds `kubeadm init --config` reads (kubeadm's v1beta4 doc.go, "Kubeadm init
 * configuration types"), each with the apiVersions it may carry. The kubeadm kinds take the
 * one kubeadm.k8s.io version the Kubernetes version reads (checked later, against it).
 * JoinConfiguration, ResetConfiguration and UpgradeConfiguration are for other commands:
 * kubeadm init would ignore them, so they are refused rather than silently dropped.
 */
export const KUBEADM_KINDS = {
  InitConfiguration: ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'],
  ClusterConfiguration: ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'],
  KubeletConfiguration: ['kubelet.config.k8s.io/v1beta1'],
  KubeProxyConfiguration: ['kubeproxy.config.k8s.io/v1alpha1']
} as const

export type KubeadmKind = keyof typeof KUBEADM_KINDS

export const KUBEADM_KIND_NAMES = Object.keys(KUBEADM_KINDS) as KubeadmKind[]

/** One document of kubeadm-config. */
export interface KubeadmPatch {
  kind: KubeadmKind
  /** as written; absent means "the version the action renders" */
  apiVersion?: string
  /** the document without kind and apiVersion: the merge patch itself */
  fields: Record<string, unknown>
  /** 1-based, among the non-empty documents, for messages */
  doc: number
}

/** kubeadm-config: where it came from, and its documents once read. */
export interface KubeadmConfigInput {
  /** the file named by the input; undefined when the YAML was given inline */
  path?: string
  /** undefined only for a file not read yet (src/config/input-files.ts reads it) */
  patches?: KubeadmPatch[]
}

/** The accepted forms of kubeadm-config, as its errors and action.yml say them. */
export const KUBEADM_CONFIG_FORMS = `YAML documents of kind ${KUBEADM_KIND_NAMES.join(', ')} (apiVersion optional), merged into the action's kubeadm configuration (maps merge, lists and values replace, null removes), or the path of a file holding them`

/**
 * Inline YAML or a path? A path is one line, not starting with '{', with no ': ' in it;
 * any YAML document worth merging has a 'key: value' or is a '{...}' flow map.
 */
export function looksLikePath(value: string): boolean {
  return !value.includes('\n') && !value.startsWith('{') && !/:\s/.test(value) && !value.endsWith(':')
}

/** The YAML library's message without the excerpt it appends. */
const firstLine = (message: string): string => message.split('\n')[0].replace(/:$/, '')

/**
 * The documents of kubeadm-config, each a map with a known kind, an apiVersion of that kind
 * (or none), at most one per kind (kubeadm refuses a kind "specified twice in YAML file":
 * cmd/kubeadm/app/util/marshal.go, SplitConfigDocuments). `where` names the input (and the
 * file) in each problem.
 */
export function parseKubeadmDocuments(text: string, where: string): { patches: KubeadmPatch[]; problems: string[] } {
  const problems: string[] = []
  const patches: KubeadmPatch[] = []
  const bad = (what: string, accepted = KUBEADM_CONFIG_FORMS): void => void problems.push(`${where} ${what}; accepted: ${accepted}.`)
  let n = 0
  // merge keys (`<<: *anchor`) resolved, as kubeadm's YAML reader (sigs.k8s.io/yaml, YAML 1.1) resolves them
  for (const d of parseAllDocuments(text, { merge: true })) {
    if (d.errors.length > 0) {
      bad(`is not valid YAML (${d.errors.map((e) => firstLine(e.message)).join('; ')})`)
      continue
    }
    const js: unknown = d.toJS()
    if (js === null || js === undefined) continue // an empty document, such as after a trailing '---'
    const doc = ++n
    if (!isMap(js)) {
      bad(`has document ${doc}, which is ${Array.isArray(js) ? 'a list' : `the scalar ${JSON.stringify(js)}`}, not a map`)
      continue
    }
    const { kind, apiVersion, ...fields } = js
    if (typeof kind !== 'string' || !(kind in KUBEADM_KINDS)) {
      bad(
        kind === undefined ? `has document ${doc} without a kind` : `has document ${doc} of kind ${JSON.stringify(kind)}, which kubeadm init does not read or this action does not merge`,
        `one of ${KUBEADM_KIND_NAMES.join(', ')} per document`
      )
      continue
    }
    const k = kind as KubeadmKind
    const versions: readonly string[] = KUBEADM_KINDS[k]
    if (apiVersion !== undefined && (typeof apiVersion !== 'string' || !versions.includes(apiVersion))) {
      bad(`has document ${doc} (${k}) with apiVersion ${JSON.stringify(apiVersion)}`, `${versions.join(' or ')}, or no apiVersion (the action's own then applies)`)
      continue
    }
    const twice = patches.find((p) => p.kind === k)
    if (twice) {
      bad(`has ${k} twice (documents ${twice.doc} and ${doc}); kubeadm refuses a kind given twice`, `one document per kind; put both documents' fields in one`)
      continue
    }
    patches.push({ kind: k, apiVersion: apiVersion as string | undefined, fields, doc })
  }
  const kubeadmApis = new Set(patches.filter((p) => p.apiVersion?.startsWith('kubeadm.k8s.io/')).map((p) => p.apiVersion))
  if (kubeadmApis.size > 1) {
    bad(`mixes ${[...kubeadmApis].join(' and ')}`, 'one kubeadm.k8s.io version for InitConfiguration and ClusterConfiguration (the one the Kubernetes version reads), or none')
  }
  return { patches, problems }
}

/**
 * The secrets kubeadm-config may carry: bootstrap tokens and the key that encrypts the
 * uploaded certificates (InitConfiguration bootstrapTokens[].token, certificateKey; kubeadm's
 * v1beta4 doc.go). The dry run prints the merged file, so these are shown as ***.
 */
export function kubeadmSecrets(patches: readonly KubeadmPatch[]): string[] {
  const init = patches.find((p) => p.kind === 'InitConfiguration')?.fields
  if (!init) return []
  const tokens = Array.isArray(init.bootstrapTokens) ? init.bootstrapTokens.map((t: unknown) => (isMap(t) ? t.token : undefined)) : []
  return [...tokens, init.certificateKey].filter((s): s is string => typeof s === 'string' && s !== '')
}

/** One gate of feature-gates. */
export interface FeatureGate {
  name: string
  enabled: boolean
}

/** The accepted form of feature-gates, as its errors and action.yml say it. */
export const FEATURE_GATES_FORM = "'Name=true' or 'Name=false' entries, comma- or newline-separated, such as 'InPlacePodVerticalScaling=true,UserNamespacesSupport=false': a CamelCase gate name and true or false"

/**
 * kubeadm's own gates (cmd/kubeadm/app/features/features.go), which belong in
 * ClusterConfiguration.featureGates: given to the API server or the kubelet they are an
 * "unrecognized feature gate" that stops the component from starting.
 */
export const KUBEADM_ONLY_GATES = ['PublicKeysECDSA', 'RootlessControlPlane', 'EtcdLearnerMode', 'WaitForAllControlPlaneComponents', 'ControlPlaneKubeletLocalMode', 'NodeLocalCRISocket']

// A gate name as Kubernetes spells them (k8s.io/component-base/featuregate names are
// exported Go identifiers: CamelCase, an uppercase letter first).
const GATE_NAME_RE = /^[A-Z][A-Za-z0-9]*$/

// the spellings the other boolean inputs take
const BOOLS: Record<string, boolean | undefined> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false }

/** Each problem is one sentence naming the input; gates come back in the order given. */
export function parseFeatureGates(value: string, input = 'feature-gates'): { gates: FeatureGate[]; problems: string[] } {
  const gates: FeatureGate[] = []
  const problems: string[] = []
  const entries = value
    .split(/[\n,]/)
    .map((s) => s.replace(/#.*$/, '').trim())
    .filter((s) => s !== '')
  for (const entry of entries) {
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(entry)
    const enabled = m ? BOOLS[m[2]] : undefined
    if (!m || !GATE_NAME_RE.test(m[1]) || enabled === undefined) {
      problems.push(`Input '${input}' has the entry ${JSON.stringify(entry)}; accepted: ${FEATURE_GATES_FORM}.`)
      continue
    }
    const name = m[1]
    if (KUBEADM_ONLY_GATES.includes(name)) {
      problems.push(`Input '${input}' has the entry ${JSON.stringify(entry)}, a gate of kubeadm itself that the components would refuse as unrecognized; accepted: a Kubernetes component gate here, and kubeadm's own in kubeadm-config's ClusterConfiguration featureGates.`)
      continue
    }
    const earlier = gates.find((g) => g.name === name)
    if (earlier) {
      problems.push(`Input '${input}' names ${name} twice (${name}=${earlier.enabled} and ${entry}); accepted: each gate once.`)
      continue
    }
    gates.push({ name, enabled })
  }
  return { gates, problems }
}

/** "A=true,B=false", the components' --feature-gates flag value. */
export function featureGatesFlag(gates: readonly FeatureGate[]): string {
  return gates.map((g) => `${g.name}=${g.enabled}`).join(',')
}
