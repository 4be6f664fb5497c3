// Every pinned version and default lives here, so that a bump is one edit.
// action.yml repeats the input defaults for the runner's UI; a test keeps the two equal.

export const DEFAULTS = {
  kubernetesVersion: 'stable',
  containerRuntime: 'containerd',
  cni: 'flannel',
  podNetworkCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/12',
  imageRepository: 'registry.k8s.io',
  smokeTestImage: 'docker.io/library/nginx:stable-alpine',
  timeout: '5m',
  kubernetesReleaseUrl: 'https://dl.k8s.io/release',
  githubUrl: 'https://github.com',
  cleanup: 'auto'
} as const

/** The oldest Kubernetes minor the action builds; older kubeadm lacks the config fields we set. */
export const OLDEST_MINOR = 28

/** kubeadm config API: v1beta4 from 1.31, v1beta3 before (and v1beta3 is gone in 1.36). */
export const KUBEADM_V1BETA4_MINOR = 31

/** Kubernetes 1.36 supports containerd 2.2+ only. */
export const CONTAINERD_2_REQUIRED_MINOR = 36

export const FLANNEL = {
  version: 'v0.28.4',
  // The images the pinned manifest names; the run reads them from the manifest itself
  // and these only predict them for the dry run.
  images: ['ghcr.io/flannel-io/flannel:v0.28.4', 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1'],
  namespace: 'kube-flannel',
  daemonSet: 'kube-flannel-ds',
  defaultNetwork: '10.244.0.0/16'
} as const

export const CNI_PLUGINS_VERSION = 'v1.8.0'

/** cri-tools is released per Kubernetes minor; its crictl speaks that minor's CRI. */
export function crictlVersion(minor: number): string {
  return `v1.${minor}.0`
}

/**
 * What kubeadm's constants name for each minor (pause, coredns, etcd). The run asks the
 * downloaded kubeadm (`kubeadm config images list`); this table only lets a dry run without
 * network predict the list. Minors missing here are shown as "asked of kubeadm at run time".
 */
export const KUBEADM_IMAGE_TAGS: Readonly<Record<number, { pause: string; coredns: string; etcd: string }>> = {
  28: { pause: '3.9', coredns: 'v1.10.1', etcd: '3.5.15-0' },
  29: { pause: '3.9', coredns: 'v1.11.1', etcd: '3.5.16-0' },
  30: { pause: '3.9', coredns: 'v1.11.3', etcd: '3.5.15-0' },
  31: { pause: '3.10', coredns: 'v1.11.3', etcd: '3.5.15-0' },
  32: { pause: '3.10', coredns: 'v1.11.3', etcd: '3.5.16-0' },
  33: { pause: '3.10', coredns: 'v1.12.0', etcd: '3.5.21-0' },
  34: { pause: '3.10.1', coredns: 'v1.12.1', etcd: '3.6.4-0' },
  35: { pause: '3.10.1', coredns: 'v1.13.1', etcd: '3.6.6-0' }
}


/** Host packages kubeadm's preflight wants; conntrack is mandatory below 1.32. */
export const HOST_PACKAGES = [
  { pkg: 'conntrack', bin: 'conntrack' },
  { pkg: 'socat', bin: 'socat' },
  { pkg: 'ebtables', bin: 'ebtables' },
  { pkg: 'ethtool', bin: 'ethtool' }
] as const

export const SMOKE = { name: 'kubeadm-single-node-smoke', namespace: 'default' } as const
