// Every input, declared once: its name, kind, default, the forms its errors accept, its
// description, the section of the configuration it feeds and how the command line takes it.
// From this table come the parser's defaults and accepted forms (./parse.ts), the
// command line's flags and help (src/entry/args.ts), and action.yml's inputs and the README's
// Inputs table (written by `npm run inputs`; a test fails when they differ from this table).
//
// A runner passes every input action.yml declares, filling in action.yml's default for one a
// workflow leaves out, so the code cannot tell that default from a value a user wrote. An
// input whose default depends on another input (mirror-preset, offline, the CNI) therefore
// has the default '' here and in action.yml, says what the code picks (`empty`), and the
// parser picks it.
import { CNI_NAMES, CNIS } from '../cnis/index.js'
import { RUNTIME_NAMES } from '../runtimes/index.js'
import { DEFAULTS } from '../config/defaults.js'
import { ADDRESS_POOL_FORMS, DEFAULT_POOLS } from '../host/address-pool.js'
import { DIAGNOSTICS_ARTIFACT_VALUES, ON_EXISTING_VALUES, type Sections } from '../config/inputs.js'
import { OLDEST_MINOR } from '../config/kubernetes.js'
import { MIRROR_PRESET_NAMES, MIRROR_PRESETS } from '../config/presets.js'

/** The part of the configuration an input feeds; each consumer is handed the sections it reads. */
export type Section = keyof Sections

/** What an input holds; the command line's help names the value after it. */
export type InputKind =
  | 'boolean'
  | 'enum'
  | 'version'
  | 'cidr'
  | 'address-pool'
  | 'duration'
  | 'url'
  | 'url-or-path'
  | 'image'
  | 'image-repository'
  | 'list'
  | 'lines'
  | 'paths'
  | 'path'
  | 'yaml-or-path'
  | 'cni-version'
  | 'secret'
  | 'secret-lines'
  | 'port-or-boolean'

export interface InputSpec<S extends Section = Section> {
  name: string
  section: S
  /** the configuration's field it becomes, in its section */
  field: keyof Sections[S] & string
  kind: InputKind
  /** an enum's values, in the order errors list them */
  values?: readonly string[]
  /** action.yml's default: what a runner passes when the workflow leaves the input out */
  default: string
  /** for a '' default the code resolves from other inputs: what it picks (Markdown) */
  empty?: string
  /** the accepted forms as its errors print them, where one text says them all */
  forms?: string
  /** action.yml's description (plain text, one paragraph) */
  description: string
  /** the README's "accepted" cell (Markdown); the command line's help shows it as plain text */
  summary: string
  /** a secret: never a flag (a command line is readable by every user in /proc); the command line reads this environment variable */
  env?: string
  /** read only by the action's post step, which the command line has not: never a flag; what the command line offers instead */
  postStep?: string
}

const quoted = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ')

/** Booleans as the YAML 1.2 core schema writes them, the forms @actions/core's getBooleanInput takes. */
export const BOOLEAN_TRUE = ['true', 'True', 'TRUE'] as const
export const BOOLEAN_FALSE = ['false', 'False', 'FALSE'] as const
export const BOOLEAN_FORMS = "'true' or 'false' (also 'True', 'TRUE', 'False', 'FALSE', as YAML 1.2 writes booleans)"

/** The accepted forms of kubernetes-version, as the error and action.yml say them. */
export const VERSION_FORMS = `'stable' (the newest release; 'latest' is an alias of it), a minor such as '1.34' or 'v1.34' (its newest patch), or a release such as 'v1.34.2' or '1.34.2' (oldest 1.${OLDEST_MINOR})`

/** The accepted forms of cni-version, as its errors and action.yml say them. */
export const CNI_VERSION_FORMS = `'' (the release the CNI pins: ${Object.entries(CNIS)
  .filter(([, p]) => p.release)
  .map(([n, p]) => `${n} ${p.release!.pinned}`)
  .join(', ')}), 'latest' (its newest release, looked up with GitHub's API and github-token), or a release such as 'v3.32.2'`

/** The accepted values of mirror-preset, as its error and action.yml say them. */
export const MIRROR_PRESET_FORMS = `'' (no preset), ${MIRROR_PRESET_NAMES.map((n) => `'${n}' (mirrors reachable from ${MIRROR_PRESETS[n].where})`).join(', ')}`

export { ON_EXISTING_VALUES }
/** The accepted values of on-existing, as its errors say them. */
export const ON_EXISTING_FORMS =
  "'fail' (stop before changing anything), 'reset' (undo the earlier run and kubeadm reset, then build a fresh cluster), 'reuse' (take the cluster as it is, if it answers)"

export const CLEANUP_VALUES = ['auto', 'true', 'false'] as const
export const CLEANUP_FORMS = `${quoted(CLEANUP_VALUES)} (also 'True', 'TRUE', 'False', 'FALSE', as YAML 1.2 writes booleans)`

/** The accepted form of registry-credentials, as its errors and action.yml say it. */
export const CREDENTIALS_FORM =
  "one line per registry host, 'REGISTRY=USERNAME:TOKEN', such as 'docker.io=octocat:dckr_pat_…' or 'registry.example.com:5000=ci:s3cret': the line is split at its first '=' and then at the first ':' after it, so a TOKEN may hold ':' and '=' (a USERNAME may not hold ':', by HTTP basic authentication's rule); neither may hold spaces; REGISTRY is a host[:port], not a URL; a line starting with '#' is a comment"

/** The accepted form of image-retags, as its errors and action.yml say it. */
export const RETAG_FORM =
  "one line per image, 'SOURCE=TARGET', both image references, such as 'docker.io/coredns/coredns:1.12.1=registry.k8s.io/coredns/coredns:v1.12.1': SOURCE is pulled (or imported) with the other images, then tagged as TARGET, which is not pulled"

/** The accepted forms of local-registry, as its errors and action.yml say them. */
export const LOCAL_REGISTRY_FORMS = "'false' (no registry), 'true' (a registry at localhost:5000), or a port number from 1 to 65535 such as '5001' (a registry at localhost:5001); 'True', 'TRUE', 'False', 'FALSE' too, as YAML 1.2 writes booleans"

export const DURATION_FORMS = "a positive duration of at most 1h (3600 seconds), such as '300', '300s', '5m' or '1m30s'"
export const IMAGE_FORMS = "an image reference such as 'nginx:1.29', 'docker.io/library/nginx:stable-alpine' or 'ghcr.io/org/app@sha256:…'"

/** An entry of any section, whose field is one of that section's. */
export type AnyInputSpec = { [S in Section]: InputSpec<S> }[Section]

/** Every input, in action.yml's order. */
export const INPUTS = [
  {
    name: 'kubernetes-version',
    field: 'kubernetesVersion',
    section: 'cluster',
    kind: 'version',
    forms: VERSION_FORMS,
    default: DEFAULTS.kubernetesVersion,
    description:
      "'stable' (the newest release; 'latest' is an alias of it, never a pre-release), a minor such as '1.34' or 'v1.34' (its newest patch), or an exact release such as 'v1.34.2' or '1.34.2'. An exact release needs no version lookup.",
    summary:
      `\`stable\` (alias \`latest\`), a minor (\`1.34\`, \`v1.34\`: its newest patch), or a release (\`v1.34.2\`, \`1.34.2\`); oldest 1.${OLDEST_MINOR}`
  },
  {
    name: 'container-runtime',
    field: 'containerRuntime',
    section: 'cluster',
    kind: 'enum',
    values: RUNTIME_NAMES,
    default: DEFAULTS.containerRuntime,
    description:
      "The CRI runtime kubeadm uses. 'containerd' (Docker's own containerd on hosted runners, configured to serve CRI), or 'docker': the host's Docker through cri-dockerd (a pinned release), so images built with `docker build` in an earlier step run in pods without a registry. 'docker' needs Docker already on the host, and restarts it where its cgroup driver is not systemd.",
    summary:
      "`containerd`; `docker`: the host's Docker through cri-dockerd, images from `docker build` usable in pods (see [Docker as the runtime](#docker-as-the-runtime))"
  },
  {
    name: 'cni',
    field: 'cni',
    section: 'network',
    kind: 'enum',
    values: CNI_NAMES,
    default: DEFAULTS.cni,
    description:
      "'flannel' (pinned release, default), 'calico' (Calico's manifest install, pinned release, pool = pod-network-cidr), 'bridge' (the CNI reference plugins configured by the action: no DaemonSet, no image) or 'none' to install your own network (the node stays NotReady until you do; the smoke test is skipped).",
    summary:
      "`flannel`, `calico` (see [Calico](#calico)), `bridge` (the CNI reference plugins, no DaemonSet and no image: the quickest way to a Ready node; see [The bridge CNI](#the-bridge-cni)), `none` (node stays NotReady; smoke test skipped)"
  },
  {
    name: 'cni-manifest',
    field: 'cniManifest',
    section: 'network',
    kind: 'url-or-path',
    default: '',
    description:
      "An https URL (http only to this machine: localhost, 127.0.0.0/8, [::1]) or a local path to use instead of the chosen CNI's pinned manifest (kube-flannel.yml, or Calico's calico.yaml), for offline runners or a patched manifest; other schemes (file://, ftp://, ...) are refused, and a local file must exist and be readable before anything changes. Flannel's net-conf Network, or calico-node's CALICO_IPV4POOL_CIDR, is set to pod-network-cidr.",
    summary:
      "an https URL (http only to localhost) or a local path replacing the CNI's pinned manifest (`kube-flannel.yml` v0.28.9, Calico's `calico.yaml` v3.32.1); a local file must exist before anything changes"
  },
  {
    name: 'cni-version',
    field: 'cniVersion',
    section: 'network',
    kind: 'cni-version',
    forms: CNI_VERSION_FORMS,
    default: '',
    description:
      "The CNI's release: '' for the one the action pins and is tested with (flannel v0.28.9, calico v3.32.1), 'latest' for its newest release (the highest version among its GitHub releases, drafts and pre-releases left out, looked up with GitHub's API and github-token), or a release such as 'v3.32.2'. Not with cni 'none' or with cni-manifest. Any release but the pinned one has its images read from its manifest, and the dry run cannot name them.",
    summary:
      "empty: the release the action pins and is tested with (flannel v0.28.9, calico v3.32.1); `latest`: the highest release on GitHub (drafts and pre-releases left out), looked up with `github-token`; or a release such as `v3.32.2`. Not with `cni: none` or `cni-manifest`. Only the pinned release's images are named in the dry run; another's are read from its manifest"
  },
  {
    name: 'pod-network-cidr',
    field: 'podNetworkCidr',
    section: 'network',
    kind: 'cidr',
    default: DEFAULTS.podNetworkCidr,
    description:
      "The pod network (kubeadm podSubnet and flannel's Network), IPv4 CIDR from /8 to /24: kubeadm gives the node a /24 of it. Host bits are cleared (10.244.1.0/16 is read as 10.244.0.0/16, with a warning).",
    summary:
      "IPv4 CIDR, /8 to /24 (kubeadm gives each node a /24 of it); host bits are cleared, with a warning; refused where it holds one of the node's addresses or overlaps its default route's network (see below the table)"
  },
  {
    name: 'service-cidr',
    field: 'serviceCidr',
    section: 'network',
    kind: 'cidr',
    default: DEFAULTS.serviceCidr,
    description:
      "The Service network (kubeadm serviceSubnet), IPv4 CIDR from /12 to /28 (kubeadm allows at most 20 host bits and needs 10 addresses), disjoint from pod-network-cidr. Host bits are cleared, with a warning.",
    summary:
      "IPv4 CIDR, /12 to /28 (kubeadm's limit of 20 host bits), disjoint from the pod network, and from the node as `pod-network-cidr` is"
  },
  {
    name: 'mirror-preset',
    field: 'mirrorPreset',
    section: 'images',
    kind: 'enum',
    values: MIRROR_PRESET_NAMES,
    forms: MIRROR_PRESET_FORMS,
    default: '',
    description:
      "'' (no preset) or 'china': one switch for mirrors reachable from mainland China. It sets image-repository (registry.aliyuncs.com/google_containers), registry-mirrors (DaoCloud's docker.io, ghcr.io, quay.io and registry.k8s.io mirrors), kubernetes-release-url and github-url (DaoCloud's file mirror); the README's Restricted networks section lists every value. An input you set yourself wins over the preset's value for it (registry-mirrors as a whole). DaoCloud's mirrors serve only the images on their allow list, and are rate-limited.",
    summary:
      "`china`: sets `image-repository`, `registry-mirrors`, `kubernetes-release-url` and `github-url` to mirrors reachable from mainland China (see [Restricted networks](#restricted-networks)); an input you set yourself wins"
  },
  {
    name: 'image-repository',
    field: 'imageRepository',
    section: 'images',
    kind: 'image-repository',
    default: '',
    empty: `\`${DEFAULTS.imageRepository}\`, or \`mirror-preset\`'s`,
    description:
      "Where kubeadm takes its control-plane images, e.g. 'registry.aliyuncs.com/google_containers'. Any repository other than registry.k8s.io is read flat (R/coredns, R/pause), by kubeadm's rules.",
    summary:
      "a registry and path without tag; anything but `registry.k8s.io` is read flat (`R/coredns`, `R/pause`) as kubeadm does"
  },
  {
    name: 'registry-mirrors',
    field: 'registryMirrors',
    section: 'images',
    kind: 'lines',
    default: '',
    empty: "none, or `mirror-preset`'s",
    description:
      "One line per registry: 'REGISTRY=ENDPOINT [ENDPOINT...]', e.g. 'docker.io=https://mirror.gcr.io'; '#' after a space starts a comment. Registry names are case-insensitive, and index.docker.io and registry-1.docker.io mean docker.io (lines for one registry are merged). An endpoint is an http(s) registry root: no path, query or fragment, since Docker refuses such a mirror URL in daemon.json. Written as containerd hosts.toml files, so image names never change; docker.io mirrors also go to Docker's registry-mirrors.",
    summary:
      "lines of `REGISTRY=ENDPOINT [ENDPOINT...]`; `index.docker.io` and `registry-1.docker.io` mean `docker.io`; endpoints without path, query or fragment"
  },
  {
    name: 'registry-credentials',
    field: 'registryCredentials',
    section: 'images',
    kind: 'secret-lines',
    forms: CREDENTIALS_FORM,
    env: 'KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS',
    default: '',
    description:
      "Credentials for pulling, one line per registry host: 'REGISTRY=USERNAME:TOKEN', e.g. 'docker.io=${{ vars.DOCKERHUB_USER }}:${{ secrets.DOCKERHUB_TOKEN }}' (a Docker Hub token lifts the anonymous rate limit) or a private registry's or mirror's host[:port]. Split at the first '=' and the first ':' after it, so a TOKEN may hold ':' and '='; a line starting with '#' is a comment. Each token, and its base64 USERNAME:TOKEN, is masked in the log and never shown in the plan or the summary. Sent only to the host a line names: a registry-mirrors endpoint gets credentials only from a line naming its own host. Written to containerd's CRI registry auth (config.toml, 0600) and, where Docker is present, the runner user's ~/.docker/config.json (0600, put back by cleanup); the preload pulls such images through the CRI so no token is ever on a command line.",
    summary:
      "lines of `REGISTRY=USERNAME:TOKEN` (split at the first `=`, then the first `:`, so a token may hold `:` and `=`); masked in the log, placeholders in the plan; the command line reads it from `$KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS`; see [Private registries and rate limits](#private-registries-and-rate-limits)"
  },
  {
    name: 'preload-images',
    field: 'preloadImages',
    section: 'images',
    kind: 'list',
    default: '',
    description:
      "Extra images to pull before kubeadm init, one per line or comma-separated.",
    summary:
      "image references, one per line or comma-separated"
  },
  {
    name: 'image-archives',
    field: 'imageArchives',
    section: 'images',
    kind: 'paths',
    default: '',
    description:
      "Image tarballs (docker save or OCI) to import into containerd's k8s.io namespace before anything is pulled, one path per line, each kept whole (commas and '#' are part of the name; a line starting with '#' is a comment). A path may not begin with '-' (write ./-name.tar) or '~' (not expanded); each must be a readable file before anything changes. What they bring is not pulled again.",
    summary:
      "one path per line to `docker save` or OCI tarballs (commas and `#` are part of the name); each must exist before anything changes"
  },
  {
    name: 'load-images',
    field: 'loadImages',
    section: 'images',
    kind: 'list',
    default: '',
    description:
      "Images in this host's Docker (built or pulled by an earlier step), copied into containerd's k8s.io namespace before kubeadm init, as 'kind load docker-image' does: docker save to a temporary file, then ctr images import. One name per line (or comma-separated), with a tag or without one (':latest'), not a digest. Each must be in Docker before anything changes, or the step stops naming it. Not pulled again; a pod asking for a ':latest' name pulls by default (imagePullPolicy Always), so give such images a tag of their own.",
    summary:
      "names of images in this host's Docker (one per line), copied into containerd before `kubeadm init` (see [Images built in the job](#images-built-in-the-job)); each must be in Docker before anything changes"
  },
  {
    name: 'image-retags',
    field: 'imageRetags',
    section: 'images',
    kind: 'lines',
    forms: RETAG_FORM,
    default: '',
    description:
      "One line per image: 'SOURCE=TARGET', both image references, e.g. 'docker.io/coredns/coredns:1.12.1=registry.k8s.io/coredns/coredns:v1.12.1'; '#' starts a comment. For a mirror that names an image differently: each SOURCE is pulled (or imported) with the other images, then tagged as TARGET in the runtime's store (ctr images tag --force) before kubeadm init, so TARGET is never pulled. A TARGET takes a tag, not a digest, is made by one line only and is no other line's SOURCE.",
    summary:
      "lines of `SOURCE=TARGET`, both image references: SOURCE is pulled (or imported) with the rest, then tagged as TARGET, which is not pulled; a TARGET has a tag, not a digest, is made by one line and is no line's SOURCE"
  },
  {
    name: 'local-registry',
    field: 'localRegistry',
    section: 'images',
    kind: 'port-or-boolean',
    forms: LOCAL_REGISTRY_FORMS,
    default: 'false',
    description:
      "'true' runs a registry (the distribution project's image, pulled through the docker.io mirrors) in the runner's Docker at localhost:5000; a port number (1-65535) runs it at localhost:PORT. `docker push localhost:PORT/app:tag` works, and pods pull `localhost:PORT/app:tag`: the runtime is configured for plain HTTP to that host alone. The output local-registry gives the address; cleanup removes the container and the runtime's configuration for it. Needs Docker on the host.",
    summary:
      "`false`; `true` (port 5000) or a port `1`-`65535`: a registry at `localhost:PORT` for `docker push` and pods ([Local registry](#local-registry))"
  },
  {
    name: 'untaint',
    field: 'untaint',
    section: 'cluster',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'true',
    description:
      "'true' leaves no control-plane taint, so workloads schedule on the node.",
    summary:
      "`true`, `false`"
  },
  {
    name: 'fast-start',
    field: 'fastStart',
    section: 'cluster',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'true',
    description:
      "'true' tunes the control plane for one throwaway node, as CI users of kind do: etcd runs with --unsafe-no-fsync (a crash can lose its data, which a test cluster does not keep). 'false' turns every such setting off; kubeadm-config can still set each one (see README, Fast start).",
    summary:
      "`true`, `false`: etcd without fsync on a throwaway node ([Fast start](#fast-start))"
  },
  {
    name: 'kubeadm-config',
    field: 'kubeadmConfig',
    section: 'cluster',
    kind: 'yaml-or-path',
    default: '',
    description:
      "kubeadm configuration merged into the action's own, inline or as the path of a file (a path is one line without ': '; a relative one is read from the working directory). YAML documents of kind InitConfiguration, ClusterConfiguration, KubeletConfiguration or KubeProxyConfiguration, one per kind, apiVersion optional (if given, the one the Kubernetes version reads: kubeadm.k8s.io/v1beta3 before 1.31, v1beta4 from 1.31). Merged as a JSON merge patch (RFC 7386), as kind's kubeadmConfigPatches are: maps merge, lists and values replace, null removes. A field an input sets (podSubnet, serviceSubnet, imageRepository, kubernetesVersion, criSocket, taints, the kubelet's cgroupDriver and containerRuntimeEndpoint) may only repeat that input's value; set the input instead. Checked before anything changes; the dry run shows the merged file.",
    summary:
      "YAML documents (InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration; one per kind, apiVersion optional) merged into the action's kubeadm configuration, or the path of a file holding them; see [Passing kubeadm configuration](#passing-kubeadm-configuration)"
  },
  {
    name: 'feature-gates',
    field: 'featureGates',
    section: 'cluster',
    kind: 'list',
    default: '',
    description:
      "Kubernetes feature gates, 'Name=true' or 'Name=false', comma- or newline-separated, e.g. 'InPlacePodVerticalScaling=true,UserNamespacesSupport=false' (as minikube's --feature-gates): given to the API server, controller manager and scheduler (--feature-gates in extraArgs) and to the kubelet (KubeletConfiguration featureGates). kubeadm's own gates go in kubeadm-config's ClusterConfiguration featureGates. A gate the release does not know stops the component that reads it.",
    summary:
      "`Name=true`/`Name=false` entries, comma- or newline-separated (CamelCase names): given to the API server, controller manager, scheduler and kubelet"
  },
  {
    name: 'smoke-test',
    field: 'smokeTest',
    section: 'smoke',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: '',
    empty: '`true`, or `false` with `cni: none` (no pod network for it)',
    description:
      "'true' deploys smoke-test-image behind a NodePort Service and waits for HTTP 200 from it.",
    summary:
      "`true`, `false`"
  },
  {
    name: 'smoke-test-image',
    field: 'smokeTestImage',
    section: 'smoke',
    kind: 'image',
    forms: IMAGE_FORMS,
    default: DEFAULTS.smokeTestImage,
    description:
      "The smoke test's image. Docker Hub rate-limits anonymous pulls: use a mirror or another registry if that bites.",
    summary:
      "an image reference"
  },
  {
    name: 'load-balancer',
    field: 'loadBalancer',
    section: 'network',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'false',
    description:
      "'true' installs MetalLB (a pinned release, L2 mode, its manifest's SHA-256 checked) so that type: LoadBalancer Services get an address from load-balancer-addresses, routed on the runner so that later steps reach it; with smoke-test, nginx is checked through one too and its address is the output load-balancer-ip. Cleanup removes the interface and route it adds.",
    summary:
      "`true`, `false`: `type: LoadBalancer` Services get an address reachable from the runner (see [Load balancer](#load-balancer))"
  },
  {
    name: 'load-balancer-addresses',
    field: 'loadBalancerAddresses',
    section: 'network',
    kind: 'address-pool',
    forms: ADDRESS_POOL_FORMS,
    default: '',
    empty: `the first of ${DEFAULT_POOLS.map((p) => `\`${p}\``).join(', ')} clear of the pod and Service networks, the runner's networks and Docker's`,
    description:
      "The addresses load-balancer gives LoadBalancer Services: an IPv4 CIDR from /24 to /32 or a range FIRST-LAST of at most 256 addresses. It must not overlap pod-network-cidr, service-cidr, a network of the runner's interfaces, its default gateway or Docker's networks (daemon.json's bip and default-address-pools, or Docker's defaults 172.17.0.0/16-172.31.0.0/16 and 192.168.0.0/16). Only with load-balancer 'true'.",
    summary:
      "IPv4 CIDR (/24 to /32) or `FIRST-LAST` range (at most 256 addresses), clear of the pod and Service networks, the runner's networks and Docker's; only with `load-balancer: true`"
  },
  {
    name: 'timeout',
    field: 'timeoutSeconds',
    section: 'smoke',
    kind: 'duration',
    forms: DURATION_FORMS,
    default: DEFAULTS.timeout,
    description:
      "One deadline for the cluster to become ready and the smoke test to answer, counted from kubeadm init: '300', '300s', '5m', '1m30s'; at most 1h (kubeadm's own control-plane wait is 4m).",
    summary:
      "`300`, `300s`, `5m`, `1m30s`, at most `1h` (counted from when the waiting starts, after `kubeadm init`)"
  },
  {
    name: 'kubernetes-release-url',
    field: 'kubernetesReleaseUrl',
    section: 'sources',
    kind: 'url',
    default: '',
    empty: `\`${DEFAULTS.kubernetesReleaseUrl}\`, or \`mirror-preset\`'s`,
    description:
      "Where the Kubernetes binaries and version markers come from: a mirror of dl.k8s.io/release, as an https URL (http only to this machine: localhost, 127.0.0.0/8, [::1]) or a file:// URL of a directory on this machine laid out the same way. The mirror is trusted with root: it serves the binaries and their checksums.",
    summary:
      "http(s) URL of a mirror of the release bucket, or a `file://` URL of a directory on the runner laid out the same way"
  },
  {
    name: 'github-url',
    field: 'githubUrl',
    section: 'sources',
    kind: 'url',
    default: '',
    empty: `\`${DEFAULTS.githubUrl}\`, or \`mirror-preset\`'s`,
    description:
      "Where crictl, the CNI plugins and the CNI's manifest are downloaded from (GitHub, a GitHub Enterprise Server, or a mirror of GitHub's paths: flannel's is a release asset, Calico's is read at OWNER/REPO/raw/TAG/PATH), as an https URL (http only to this machine: localhost, 127.0.0.0/8, [::1]) or a file:// URL of a directory on this machine laid out the same way.",
    summary:
      "http(s) URL of GitHub, a GitHub Enterprise Server, or a mirror of GitHub's release downloads and `raw` paths, or a `file://` URL of a directory on the runner laid out the same way"
  },
  {
    name: 'github-token',
    field: 'githubToken',
    section: 'sources',
    kind: 'secret',
    env: 'GITHUB_TOKEN',
    default: '${{ github.token }}',
    description:
      "A token for GitHub's API, used only by cni-version 'latest' (one call, listing the CNI's releases) and never printed. The default is the job's own token; it is sent only to the API of the server that issued it (GITHUB_API_URL), and releases on github.com are asked anonymously from a GitHub Enterprise Server's job.",
    summary:
      "a token for GitHub's API, used only by `cni-version: latest`, masked in the log; sent only to the API of the server that issued it (`GITHUB_API_URL`), so a GitHub Enterprise Server's job asks github.com anonymously. The command line reads `$GITHUB_TOKEN`"
  },
  {
    name: 'cache',
    field: 'cache',
    section: 'sources',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'false',
    description:
      "Off by default: over links modelled on a hosted runner's, restoring the entry was slower than fetching everything, and saving it added 20 to 25 s to the job (the README's Performance section). 'true' keeps the verified Kubernetes binaries and the cluster's images in GitHub's cache after a successful run and restores them at the start of the next, keyed by Kubernetes version, architecture, runtime and the image set (mirror inputs included). Restored binaries are checked against their published checksums, and images on import against the digests the entry's own archive lists; a damaged entry is ignored with a warning. Images pulled with registry-credentials are never kept. Worth it where the registries are slow or rate-limited and the cache service is not. 'false' downloads and pulls every time.",
    summary:
      "`true`, `false`: keep the verified downloads and the cluster's images between runs (see [Caching between runs](#caching-between-runs)); not with `offline: true`"
  },
  {
    name: 'offline',
    field: 'offline',
    section: 'sources',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'false',
    description:
      "'true': nothing is fetched over the network. Before anything changes, the action proves that every image the cluster will ask for is in image-archives, that every download (kubernetes-release-url, github-url, cni-manifest) is a file:// URL or on a loopback address and is there, that kubernetes-version is an exact release, and that no package would need apt-get; it lists every missing piece at once, each with the input that provides it. Images are never pulled.",
    summary:
      "`true`: nothing is fetched over the network; every missing piece is named before anything changes (see [Air-gapped](#air-gapped-offline)); `false`"
  },
  {
    name: 'cleanup',
    field: 'cleanup',
    section: 'run',
    kind: 'enum',
    values: CLEANUP_VALUES,
    forms: CLEANUP_FORMS,
    default: DEFAULTS.cleanup,
    description:
      "'auto' undoes every host change the action recorded (kubeadm reset, files put back, units, swap, sysctls) in the post step on self-hosted runners only; 'true' always; 'false' never.",
    summary:
      "`auto` (self-hosted only), `true`, `false`: undo every recorded host change in the post step"
  },
  {
    name: 'diagnostics-artifact',
    field: 'diagnosticsArtifact',
    section: 'run',
    kind: 'enum',
    values: DIAGNOSTICS_ARTIFACT_VALUES,
    default: DEFAULTS.diagnosticsArtifact,
    postStep: "'diagnose --out DIR' writes the same archive",
    description:
      "When the post step uploads one artifact with everything it knows about the run: 'on-failure' (the main step failed, or the job was cancelled or timed out while it ran), 'always', or 'never'. It holds the diagnostics the log shows, the whole journals of the kubelet and the runtime, `kubectl cluster-info dump`, every pod's logs (previous ones too), the configuration files the action wrote (secrets redacted), the ledger and the timings, as one .tar.gz named after the job and its run attempt.",
    summary:
      "`on-failure`, `always`, `never`: when the post step uploads the diagnostics archive (see [The diagnostics artifact](#the-diagnostics-artifact))"
  },
  {
    name: 'on-existing',
    field: 'onExisting',
    section: 'run',
    kind: 'enum',
    values: ON_EXISTING_VALUES,
    forms: ON_EXISTING_FORMS,
    default: DEFAULTS.onExisting,
    description:
      "What a run does where this host already has a cluster (/etc/kubernetes/admin.conf) or an earlier run's host changes that no cleanup undid (the ledger the action keeps on the host, root's, in /var/lib/kubeadm-single-node/ledger.json, for self-hosted runners). 'fail' stops before anything changes, saying what is there. 'reset' undoes the earlier run's recorded changes (kubeadm reset first, files put back), runs kubeadm reset on a cluster no ledger records, then builds a fresh cluster. 'reuse' checks that the cluster answers, exports its kubeconfig and the outputs and builds nothing but load-images (the earlier ledger becomes this run's: cleanup undoes it); with no cluster to reuse it does what reset does.",
    summary:
      "`fail`, `reset`, `reuse`: what a run does where a cluster or an earlier run's unfinished changes already are (see [Re-runs on self-hosted runners](#re-runs-on-self-hosted-runners))"
  },
  {
    name: 'dry-run',
    field: 'dryRun',
    section: 'run',
    kind: 'boolean',
    forms: BOOLEAN_FORMS,
    default: 'false',
    description:
      "'true' prints every command and file the action would run or write, in order, and changes nothing.",
    summary:
      "`true`, `false`"
  },
  {
    name: 'plan-dir',
    field: 'planDir',
    section: 'run',
    kind: 'path',
    default: '',
    description:
      "With dry-run, also write each file at its host path under this directory, beside plan.txt and plan.json.",
    summary:
      "with `dry-run`, a directory for the plan tree"
  }
] as const satisfies readonly AnyInputSpec[]

export type InputName = (typeof INPUTS)[number]['name']

/** Every input's name, in action.yml's order. */
export const INPUT_NAMES = INPUTS.map((i) => i.name) as readonly InputName[]

const BY_NAME = new Map<string, AnyInputSpec>(INPUTS.map((i) => [i.name, i]))

export function inputSpec(name: InputName): AnyInputSpec {
  return BY_NAME.get(name)!
}

/** Markdown as plain text: code spans and links lose their marks, `<br>` becomes a comma. */
export function plainText(markdown: string): string {
  return markdown
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/<br>/g, ', ')
}
