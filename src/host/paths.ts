// Where the action reads and writes on the host. One object, passed down, so that tests
// (and the plan's directory-tree output) can put the same files elsewhere. The paths every
// run uses are here; a runtime or a CNI keeps its own in its folder, as host paths that
// onHost() puts under the same root.
// writeRoots, at the end, is the one list of the places the action writes to.
import { dirname, join } from 'node:path'

export interface Paths {
  /** '' on the host; the directory a test or the plan's tree puts the host under */
  root: string
  binDir: string
  cniBinDir: string
  cniConfDir: string
  /** the action's own files: kubeadm config, rendered manifests */
  stateDir: string
  /** originals of the files the action changed, for cleanup to put back */
  backupDir: string
  /** the host's ledger, kept between runs: root's, in a 0700 directory of root's */
  ledgerFile: string
  containerdConfig: string
  certsDir: string
  /** the host's containerd: the CRI endpoint is unix://<this> */
  containerdSocket: string
  dockerDaemonJson: string
  systemdDir: string
  modulesLoad: string
  sysctlConf: string
  /** kubeadm's own directories: present means a cluster was (or is) here */
  kubernetesDir: string
  kubeletDir: string
  etcdDir: string
  adminConf: string
  crictlConfig: string
  /** read-only kernel views: active swap, loaded modules, network interfaces */
  procSwaps: string
  sysModuleDir: string
  sysClassNet: string
  /** the CNI plugins' own state (host-local's IP allocations) */
  cniStateDir: string
  /** read-only: the mount table */
  procMounts: string
}

export const HOST_PATHS: Paths = {
  root: '',
  binDir: '/usr/local/bin',
  cniBinDir: '/opt/cni/bin',
  cniConfDir: '/etc/cni/net.d',
  stateDir: '/etc/kubeadm-single-node',
  backupDir: '/var/lib/kubeadm-single-node/backup',
  ledgerFile: '/var/lib/kubeadm-single-node/ledger.json',
  containerdConfig: '/etc/containerd/config.toml',
  certsDir: '/etc/containerd/certs.d',
  containerdSocket: '/var/run/containerd/containerd.sock',
  dockerDaemonJson: '/etc/docker/daemon.json',
  systemdDir: '/etc/systemd/system',
  modulesLoad: '/etc/modules-load.d/kubeadm-single-node.conf',
  sysctlConf: '/etc/sysctl.d/99-kubeadm-single-node.conf',
  kubernetesDir: '/etc/kubernetes',
  kubeletDir: '/var/lib/kubelet',
  etcdDir: '/var/lib/etcd',
  adminConf: '/etc/kubernetes/admin.conf',
  crictlConfig: '/etc/crictl.yaml',
  procSwaps: '/proc/swaps',
  sysModuleDir: '/sys/module',
  sysClassNet: '/sys/class/net',
  cniStateDir: '/var/lib/cni',
  procMounts: '/proc/self/mounts'
}

/** The same layout under another root: the plan's directory tree, and tests' temporary hosts. */
export function pathsUnder(root: string): Paths {
  const r = root.replace(/\/+$/, '')
  return { ...(Object.fromEntries(Object.entries(HOST_PATHS).map(([k, v]) => [k, `${r}${v}`])) as unknown as Paths), root: r }
}

/** A host path (a runtime's or a CNI's own) where these paths put the host. */
export function onHost(paths: Paths, path: string): string {
  return `${paths.root}${path}`
}

/**
 * Every place on the host the action writes to (and so may undo in): a ledger that names a
 * path outside these is refused before anything in it runs. A directory here may itself be
 * one the action made (claimed missing, undone by removing it): /opt/cni for /opt/cni/bin.
 * `home`: the runner user's, whose ~/.kube and Docker config directory the action writes.
 */
export function writeRoots(p: Paths, home: string, plugins: readonly string[], dockerConfig = process.env.DOCKER_CONFIG): string[] {
  const roots = [
    p.binDir,
    dirname(p.cniBinDir),
    dirname(p.cniConfDir),
    p.stateDir,
    dirname(p.backupDir),
    dirname(p.containerdConfig),
    p.certsDir,
    dirname(p.dockerDaemonJson),
    p.systemdDir,
    dirname(p.modulesLoad),
    dirname(p.sysctlConf),
    p.kubernetesDir,
    p.kubeletDir,
    p.etcdDir,
    p.crictlConfig,
    p.cniStateDir,
    join(home, '.kube'),
    join(home, '.docker'),
    // what the runtimes and CNIs keep of their own (their hostRoots)
    ...plugins,
    ...(dockerConfig ? [dockerConfig] : [])
  ]
  return [...new Set(roots)]
}
