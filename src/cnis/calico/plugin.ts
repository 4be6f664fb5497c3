// calico: Calico's manifest install (manifests/calico.yaml of the pinned release, or the one
// given), its default IPv4 pool set to the pod CIDR, applied after kubeadm init; calico-node
// and calico-kube-controllers run in kube-system. What calico-node leaves on the host is
// recorded before kubeadm init, so cleanup removes exactly what was not there before, and
// only once kubeadm reset has stopped the pods.
import { join } from 'node:path'
import type { CniSourceInputs } from '../../config/inputs.js'
import { onHost } from '../../host/paths.js'
import { manifestCni } from '../manifest-cni.js'
import { cniReleaseOf, describeRelease } from '../release.js'
import type { CniPlugin } from '../types.js'
import { renderCalicoManifest } from './manifest.js'

export const CALICO = {
  // projectcalico/calico tag v3.32.1 (commit 0ca9d1b93644778cafdf1812f3dda02ac0c361e8,
  // 2026-06-24). manifests/calico.yaml is no release asset: Calico's install docs read it from
  // the tag, and the action does the same; the SHA-256 of the file at that commit is pinned, so
  // that no mirror can change the privileged pods it runs. v3.32.2 (24 Aug 2026) is newer than
  // every copy of the repository this pin could be read from, so its bytes could not be
  // checked: the pin stays at v3.32.1 until they can (`cni-version: v3.32.2` fetches it,
  // unpinned, as any other release). v3.33 is not taken: its manifest replaces calico/cni and
  // calico/kube-controllers with quay.io/calico/calico (release-v3.33 branch), which needs
  // this list and the leftovers below to change against a manifest read at its tag.
  version: 'v3.32.1',
  manifestSha256: 'a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744',
  // The images the pinned manifest names: calico.yaml takes them from quay.io since v3.30
  // (projectcalico/calico#10025, "replace docker.io with quay.io"), tagged with the release.
  // The run reads them from the manifest itself; these only predict them for the dry run.
  images: (v: string): string[] => [`quay.io/calico/cni:${v}`, `quay.io/calico/node:${v}`, `quay.io/calico/kube-controllers:${v}`],
  namespace: 'kube-system'
} as const

/**
 * What calico-node keeps on the host: its state, its run directory, its CNI plugin's log, its
 * policy sockets. calico.yaml mounts /var/run/calico and /var/run/nodeagent; /var/run is a
 * link to /run on the runners, and the mount table names the targets under /run.
 */
const CALICO_DIRS = { lib: '/var/lib/calico', run: '/run/calico', log: '/var/log/calico', policySync: '/run/nodeagent' } as const
/** where the kernel's BPF filesystem is mounted */
export const BPF_FS_DIR = '/sys/fs/bpf'

/**
 * GitHub serves a file of a tag at github.com/OWNER/REPO/raw/TAG/PATH (a redirect to
 * raw.githubusercontent.com): Calico's install docs fetch manifests/calico.yaml from the tag,
 * it is no release asset. The same path under github-url works for GitHub Enterprise Server
 * and for file mirrors that take github.com's layout.
 */
export function calicoManifestSource(config: CniSourceInputs): string {
  return config.cniManifest ?? `${config.githubUrl}/projectcalico/calico/raw/${cniReleaseOf(calico, config)}/manifests/calico.yaml`
}

export const calico: CniPlugin = {
  release: { repo: 'projectcalico/calico', pinned: CALICO.version },
  carriesPods: true,
  readiness: { nodeReady: true, namespaces: [CALICO.namespace] },
  describe: (config) => `calico ${config.cniManifest ? '(given manifest)' : describeRelease(calico, config)}, IPv4 pool ${config.podNetworkCidr}`,
  ...manifestCni({
    name: 'calico',
    plugin: () => calico,
    source: calicoManifestSource,
    render: renderCalicoManifest,
    pinnedImages: CALICO.images(CALICO.version),
    pinnedSha256: CALICO.manifestSha256,
    sets: { title: 'CALICO_IPV4POOL_CIDR', full: "calico-node's CALICO_IPV4POOL_CIDR" }
  }),

  leftovers: (paths) => ({
    // install-cni writes the CNI config and, for the plugin, a kubeconfig with a service
    // account token (cni-plugin/pkg/install/install.go); it copies every binary of the
    // calico/cni image into /opt/cni/bin (cni-plugin/Makefile, fetch-cni-bins: flannel,
    // loopback, host-local, portmap, tuning, bandwidth, beside install, calico and
    // calico-ipam). Those the CNI plugins step installed are recorded there already.
    files: [
      join(paths.cniConfDir, '10-calico.conflist'),
      join(paths.cniConfDir, 'calico-kubeconfig'),
      ...['calico', 'calico-ipam', 'install', 'flannel', 'loopback', 'host-local', 'portmap', 'tuning', 'bandwidth'].map((b) => join(paths.cniBinDir, b))
    ],
    // the DaemonSet's hostPath volumes (DirectoryOrCreate, or created by the runtime when
    // missing): var-lib-calico, var-run-calico, cni-log-dir, policysync, host-local-net-dir
    dirs: [...Object.values(CALICO_DIRS).map((d) => onHost(paths, d)), paths.cniStateDir],
    // Felix makes vxlan.calico where a pool uses VXLAN (the manifest's pool uses IPIP). Not
    // recorded: tunl0, the ipip module's fallback device, which the kernel makes with the
    // module and does not let be deleted (modules are left loaded); and the pods' cali*
    // veths, which go with their pods when kubeadm reset removes them.
    interfaces: ['vxlan.calico'],
    // The ebpf-bootstrap init container (calico-node -init -best-effort) mounts cgroup2 at
    // /run/calico/cgroup, and the BPF filesystem where none is, with Bidirectional
    // propagation "so that it outlives the init container" (calico.yaml): unmounted before
    // /run/calico is removed, which would otherwise reach into the host's cgroup tree.
    mounts: [onHost(paths, join(CALICO_DIRS.run, 'cgroup')), onHost(paths, BPF_FS_DIR)]
  }),

  hostRoots: (paths) => Object.values(CALICO_DIRS).map((d) => onHost(paths, d)),
  // the CNI plugin's own log (calico.yaml's cni_network_config log_file_path), and the node
  // name calico-node wrote, whose absence is the commonest failure (see the hints)
  hostFiles: (paths) => [onHost(paths, join(CALICO_DIRS.log, 'cni/cni.log')), onHost(paths, join(CALICO_DIRS.lib, 'nodename'))],
  diagnostics: (_paths, kubectl, kubeconfig) => [
    {
      title: 'calico-node logs',
      argv: [kubectl, 'logs', '-n', CALICO.namespace, '-l', 'k8s-app=calico-node', '--all-containers', '--tail', '40'],
      env: { KUBECONFIG: kubeconfig },
      requires: [kubectl, kubeconfig]
    },
    {
      title: 'calico-kube-controllers logs',
      argv: [kubectl, 'logs', '-n', CALICO.namespace, '-l', 'k8s-app=calico-kube-controllers', '--tail', '20'],
      env: { KUBECONFIG: kubeconfig },
      requires: [kubectl, kubeconfig]
    }
  ],

  hints: [
    {
      // the CNI plugin's own message (cni-plugin/pkg/plugin/plugin.go)
      pattern: /stat \/var\/lib\/calico\/nodename: no such file or directory/,
      hint: 'calico-node has not started on the node (it writes /var/lib/calico/nodename): see its logs and its pod, often an image still pulling from quay.io.'
    },
    {
      pattern: /error getting ClusterInformation: connection is unauthorized/,
      hint: "The Calico CNI plugin's token in /etc/cni/net.d/calico-kubeconfig is not this cluster's: one left by an earlier cluster on this host. Cleanup removes it; delete it and the calico-node pod to have a new one written."
    },
    { pattern: /failed to find plugin "calico"/, hint: "Calico's install-cni init container has not copied its plugins into /opt/cni/bin: see calico-node's logs (--all-containers)." }
  ]
}
