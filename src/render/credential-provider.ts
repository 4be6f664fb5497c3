// registry-credentials for the kubelet on containerd 2.x: a kubelet image credential provider
// (KEP-2133, kubernetes/enhancements keps/sig-node/2133-kubelet-credential-providers). Its v1
// APIs, used here, came with Kubernetes 1.26, older than every minor this action supports.
// Pure renderers.
//
// Why a provider: containerd's CRI `registry.configs."HOST".auth` is deprecated and "will be
// removed in containerd v2.4" (containerd pkg/deprecation/deprecation.go, CRIRegistryConfigs;
// RELEASES.md "Deprecated config properties"), and hosts.toml has no credential field
// (docs/cri/registry.md: "will NOT have an equivalent way to store unencrypted secrets in the
// host configuration files"). What remains is credentials the kubelet sends with each CRI
// PullImage: from a pod's imagePullSecrets, or from a credential provider. Pull secrets reach
// only the pods that name them, in the namespaces that hold them, and never the static pods;
// a provider answers every pull the kubelet makes for a matching image, in every namespace.
//
// Three files:
// - the CredentialProviderConfig the kubelet reads (--image-credential-provider-config):
//   kubelet.config.k8s.io/v1, one provider whose matchImages are the registries that have a
//   registry-credentials line (kubernetes pkg/credentialprovider/plugin/config.go validates
//   name, apiVersion, matchImages and defaultCacheDuration as required);
// - the provider, in --image-credential-provider-bin-dir under the provider's name: a POSIX
//   sh script that reads nothing from its arguments or its request and prints the response
//   file. It holds no secret: the script may be read by anyone;
// - the response it prints, root's alone (0600): a CredentialProviderResponse
//   (credentialprovider.kubelet.k8s.io/v1) whose `auth` has one entry per registry. The
//   kubelet matches the image against those keys itself (its keyring), so each image gets its
//   own registry's login only (staging/src/k8s.io/kubelet/pkg/apis/credentialprovider/v1/types.go).
import { toYaml } from './yaml.js'
import type { RegistryCredential } from '../config/inputs.js'
import { shown } from '../images/credentials.js'

export const CREDENTIAL_PROVIDER_NAME = 'kubeadm-single-node-registry-credentials'
export const CREDENTIAL_PROVIDER_CONFIG_API = 'kubelet.config.k8s.io/v1'
export const CREDENTIAL_PROVIDER_API = 'credentialprovider.kubelet.k8s.io/v1'
/**
 * How long the kubelet keeps an answer: the logins do not change while the cluster runs, and
 * the provider is run again at most this often (a 0 would run it for every pull).
 */
export const CREDENTIAL_CACHE_DURATION = '1h'

/** Where the three files go: beside the action's other state, the provider in its own directory. */
export interface CredentialProviderFiles {
  config: string
  binDir: string
  /** binDir/<provider name>: the kubelet runs exactly this path */
  executable: string
  response: string
}

/**
 * The image name a registry's images carry, as the kubelet sees it: the kubelet normalizes an
 * image before it asks (kubernetes pkg/util/parsers ParseImageName, ParseNormalizedNamed:
 * Docker Hub's are docker.io/library/..., as registry-credentials names the registry), and
 * matchImages keys match by host, port and path prefix (plugin.go isImageAllowed, URLsMatchStr).
 */
export function matchImage(registry: string): string {
  return registry
}

export function renderCredentialProviderConfig(registries: readonly string[]): string {
  return toYaml({
    apiVersion: CREDENTIAL_PROVIDER_CONFIG_API,
    kind: 'CredentialProviderConfig',
    providers: [
      {
        name: CREDENTIAL_PROVIDER_NAME,
        apiVersion: CREDENTIAL_PROVIDER_API,
        matchImages: [...new Set(registries.map(matchImage))],
        defaultCacheDuration: CREDENTIAL_CACHE_DURATION
      }
    ]
  })
}

/**
 * The provider's one answer, whatever the image. cacheKeyType Global: the answer does not
 * depend on the image (the kubelet still picks the auth entry that matches each image).
 */
export function renderCredentialProviderResponse(credentials: readonly RegistryCredential[], reveal: boolean): string {
  const auth = Object.fromEntries(credentials.map((c) => [matchImage(c.registry), { username: c.username, password: shown(c.password, reveal) }]))
  return `${JSON.stringify({ apiVersion: CREDENTIAL_PROVIDER_API, kind: 'CredentialProviderResponse', cacheKeyType: 'Global', auth }, null, 2)}\n`
}

/** A path as one word of sh, whatever it holds. */
const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The provider. The kubelet writes a CredentialProviderRequest on its standard input and reads
 * the response from its standard output (plugin.go ExecPlugin); the request is read to its end
 * and dropped, so that the kubelet's write never meets a closed pipe. No argument is read.
 */
export function renderCredentialProviderScript(responsePath: string): string {
  return [
    '#!/bin/sh',
    `# ${CREDENTIAL_PROVIDER_NAME}: a kubelet image credential provider written by kubeadm-single-node.`,
    '# It answers every request with the registry-credentials response in the file below (root',
    "# only); which registry's login an image gets, the kubelet decides from the answer's keys.",
    'set -eu',
    'cat >/dev/null',
    `exec cat ${shQuote(responsePath)}`,
    ''
  ].join('\n')
}
