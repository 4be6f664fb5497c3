// The configuration every part of the run reads, in sections (ClusterInputs, NetworkInputs, ...):
// the types only. The inputs are declared, parsed and validated once, in src/inputs/; deeper
// modules receive these values and never read inputs. A runtime or a CNI is named by the
// string its registry knows it by (src/runtimes/index.ts, src/cnis/index.ts), so that this
// bottom layer names no plug-in.
import type { FeatureGate, KubeadmConfigInput } from './kubeadm-config.js'
import type { MirrorPresetName } from './presets.js'
import type { Secret } from './secret.js'

/** The accepted values of on-existing. */
export const ON_EXISTING_VALUES = ['fail', 'reset', 'reuse'] as const

export type VersionSpec =
  | { kind: 'stable' }
  | { kind: 'minor'; minor: number }
  | { kind: 'exact'; version: string } // always "vX.Y.Z[-pre]"

export interface RegistryMirror {
  /** the registry whose pulls are redirected, e.g. docker.io */
  registry: string
  /** endpoints tried in order before the registry itself, e.g. https://mirror.gcr.io */
  endpoints: string[]
}

/** Credentials for one registry host (registry-credentials). */
export interface RegistryCredential {
  /** the host they are sent to, as image references and registry-mirrors name it: lowercase, Docker Hub as docker.io */
  registry: string
  username: string
  /** the token or password; prints as a placeholder */
  password: Secret
  /** base64 of USERNAME:TOKEN, the form Docker's config.json holds; prints as a placeholder */
  basic: Secret
}

/** An image the cluster asks for (target) made from one pulled under another name (source). */
export interface ImageRetag {
  /** pulled or imported with the other images, normalized */
  source: string
  /** tagged in the runtime's store after the preload, and so never pulled; normalized */
  target: string
}

export type Cleanup = 'auto' | 'true' | 'false'

export const DIAGNOSTICS_ARTIFACT_VALUES = ['on-failure', 'always', 'never'] as const
/** When the post step uploads the diagnostics archive (src/commands/collect.ts) as an artifact. */
export type DiagnosticsArtifact = (typeof DIAGNOSTICS_ARTIFACT_VALUES)[number]

/** What a run does on a host where a cluster, or an earlier run's unfinished changes, already are. */
export type OnExisting = (typeof ON_EXISTING_VALUES)[number]
export const ON_EXISTING = ON_EXISTING_VALUES
/**
 * cni-version: the plug-in's pinned release, the newest one (looked up with GitHub's API
 * before the plan is made, then held as `exact` with `latest` set), or a release named.
 */
export type CniVersionSpec = { kind: 'pinned' } | { kind: 'latest' } | { kind: 'exact'; version: string; latest?: boolean }

// The configuration in sections, one per part of the run that reads it; each input's section
// is in src/inputs/table.ts. A consumer takes the sections it reads (a `Config` fits
// any of them).

/** What cluster kubeadm builds: the version, the runtime, and kubeadm's own settings. */
export interface ClusterInputs {
  kubernetesVersion: VersionSpec
  /** a name in src/runtimes/index.ts */
  containerRuntime: string
  untaint: boolean
  /** the one-node settings (render/kubeadm.ts, FAST_START): etcd without fsync */
  fastStart: boolean
  /** YAML laid over the rendered kubeadm configuration (src/render/kubeadm.ts), if given */
  kubeadmConfig?: KubeadmConfigInput
  /** given to the API server, controller manager, scheduler and kubelet; empty when unset */
  featureGates: FeatureGate[]
}

/** The pod network: the CNI and the two address ranges. */
export interface NetworkInputs {
  /** a name in src/cnis/index.ts */
  cni: string
  cniManifest?: string
  cniVersion: CniVersionSpec
  podNetworkCidr: string
  serviceCidr: string
  /** load-balancer: LoadBalancer Services get an address (src/addons/load-balancer) */
  loadBalancer: boolean
  /** load-balancer-addresses, where given; absent, the add-on picks a default pool clear of the host's networks */
  loadBalancerAddresses?: AddressPool
}

/** A run of IPv4 addresses, first to last, both included (src/host/address-pool.ts). */
export interface AddressPool {
  /** as written, trimmed */
  given: string
  first: string
  last: string
}

/** Which images the cluster gets, from where, and with whose credentials. */
export interface ImagesInputs {
  /** the mirror-preset that filled the inputs left empty, if any */
  mirrorPreset?: MirrorPresetName
  imageRepository: string
  registryMirrors: RegistryMirror[]
  registryCredentials: RegistryCredential[]
  preloadImages: string[]
  imageArchives: string[]
  /** images in the host's Docker, copied into the runtime's store (docker save, then import), normalized */
  loadImages: string[]
  imageRetags: ImageRetag[]
  /** local-registry: the port of the registry at localhost:PORT; absent when off */
  localRegistry?: number
}

/** Where the downloads come from, and whether the network or the cache may be used. */
export interface SourcesInputs {
  kubernetesReleaseUrl: string
  githubUrl: string
  /** for GitHub's API (cni-version: latest); never printed */
  githubToken: string
  /** keep the verified downloads and the images between runs (GitHub's cache; a directory for the command line) */
  cache: boolean
  /** every piece must be on this machine already; proven before anything changes (src/preflight/offline.ts) */
  offline: boolean
}

/** The proof at the end: nginx behind a NodePort, and the deadline for it. */
export interface SmokeInputs {
  smokeTest: boolean
  smokeTestImage: string
  timeoutSeconds: number
}

/** How this run behaves on the host: cleanup, an existing cluster, the dry run. */
export interface RunInputs {
  cleanup: Cleanup
  diagnosticsArtifact: DiagnosticsArtifact
  onExisting: OnExisting
  dryRun: boolean
  planDir?: string
}

/** What a CNI reads to say where its manifest comes from: the network, and the GitHub it is fetched from. */
export type CniSourceInputs = NetworkInputs & Pick<SourcesInputs, 'githubUrl'>

export interface Sections {
  cluster: ClusterInputs
  network: NetworkInputs
  images: ImagesInputs
  sources: SourcesInputs
  smoke: SmokeInputs
  run: RunInputs
}

export type Config = ClusterInputs &
  NetworkInputs &
  ImagesInputs &
  SourcesInputs &
  SmokeInputs &
  RunInputs & {
    /**
     * What parsing changed about an accepted value or wants said about it (a CIDR with host
     * bits set, read as its network), one sentence each, in input order. Not problems: the
     * run goes on. The caller prints each as a warning (and the dry run lists them).
     */
    notes: string[]
  }

/** Reads one input's raw text; '' when unset. */
export type InputGetter = (name: string) => string

export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} inputs are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`
    )
    this.name = 'InputError'
  }
}

