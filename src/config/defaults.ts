// Every default and pin that is not per Kubernetes minor lives here, so that a bump is one
// edit. Per-minor facts are in kubernetes.ts; each runtime and CNI pins its own version in
// its folder. The input table (src/inputs/table.ts) takes its defaults from here, and action.yml is
// written from that table; an input whose default depends on another gets '' there and its
// value here is what the parser picks.

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
  cleanup: 'auto',
  diagnosticsArtifact: 'on-failure',
  onExisting: 'fail'
} as const

/** containernetworking/plugins: bridge, host-local, portmap and loopback for any CNI. */
export const CNI_PLUGINS_VERSION = 'v1.8.0'

export const SMOKE = { name: 'kubeadm-single-node-smoke', namespace: 'default' } as const
