// Where the action reads and writes on the host. One object, passed down, so that tests
// (and the plan's directory-tree output) can put the same files elsewhere.

export interface Paths {
  binDir: string
  cniBinDir: string
  cniConfDir: string
  /** the action's own files: kubeadm config, rendered CNI manifest, backups */
  stateDir: string
  containerdConfig: string
  certsDir: string
  /** CRI endpoint is unix://<this> */
  containerdSocket: string
  dockerDaemonJson: string
  systemdDir: string
  modulesLoad: string
  sysctlConf: string
  adminConf: string
  crictlConfig: string
}

export const HOST_PATHS: Paths = {
  binDir: '/usr/local/bin',
  cniBinDir: '/opt/cni/bin',
  cniConfDir: '/etc/cni/net.d',
  stateDir: '/etc/kubeadm-single-node',
  containerdConfig: '/etc/containerd/config.toml',
  certsDir: '/etc/containerd/certs.d',
  containerdSocket: '/var/run/containerd/containerd.sock',
  dockerDaemonJson: '/etc/docker/daemon.json',
  systemdDir: '/etc/systemd/system',
  modulesLoad: '/etc/modules-load.d/kubeadm-single-node.conf',
  sysctlConf: '/etc/sysctl.d/99-kubeadm-single-node.conf',
  adminConf: '/etc/kubernetes/admin.conf',
  crictlConfig: '/etc/crictl.yaml'
}

/** The same layout under another root: the plan's directory tree, and tests' temporary hosts. */
export function pathsUnder(root: string): Paths {
  return Object.fromEntries(Object.entries(HOST_PATHS).map(([k, v]) => [k, `${root.replace(/\/+$/, '')}${v}`])) as unknown as Paths
}

/** Where the action keeps a file's original before changing it, for cleanup to put back. */
export function backupOf(path: string): string {
  return `${path}.kubeadm-single-node.bak`
}
