// flannel: the pinned release manifest (or the one given), its net-conf Network set to the
// pod CIDR, applied after kubeadm init. What flannel itself leaves on the host (its CNI
// config, its plugin binary, its run directory, host-local's IP allocations, its interfaces)
// is recorded before kubeadm init, so cleanup removes exactly what was not there before, and
// only once kubeadm reset has stopped the pods.
import { join } from 'node:path'
import type { CniSourceInputs } from '../../config/inputs.js'
import { onHost } from '../../host/paths.js'
import { manifestCni } from '../manifest-cni.js'
import { cniReleaseOf, describeRelease } from '../release.js'
import type { CniPlugin } from '../types.js'
import { renderFlannelManifest } from './manifest.js'

export const FLANNEL = {
  // flannel-io/flannel tag v0.28.9 (commit 5cd0d52648e891d73a6dcb9bb2c67d7c365cf7aa, 2026-08-07).
  // Its release asset kube-flannel.yml is built by kustomize at release time (Makefile's
  // release-manifest, .github/workflows/release.yml), so no copy of its bytes is in the
  // repository, and flannel publishes no checksum. The same manifest is kept in the repository
  // as Documentation/kube-flannel.yml, updated by the release commit ("Prepare for release
  // v0.28.9", #2525): the action reads that file at the tag, whose SHA-256 (of the file at that
  // commit) is pinned, so no mirror can change it.
  version: 'v0.28.9',
  manifestSha256: 'e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0',
  // The images the pinned manifest names (Documentation/kustomization/kube-flannel/kube-flannel.yml
  // and chart/kube-flannel/values.yaml at the tag); the run reads them from the manifest itself
  // and these only predict them for the dry run.
  images: ['ghcr.io/flannel-io/flannel:v0.28.9', 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3'],
  namespace: 'kube-flannel',
  interfaces: ['cni0', 'flannel.1'],
  /** state flannel keeps at run time */
  runDir: '/run/flannel'
} as const

/** GitHub serves a file of a tag at OWNER/REPO/raw/TAG/PATH, as Calico's is read (./calico/plugin.ts). */
export function flannelManifestSource(config: CniSourceInputs): string {
  return config.cniManifest ?? `${config.githubUrl}/flannel-io/flannel/raw/${cniReleaseOf(flannel, config)}/Documentation/kube-flannel.yml`
}

export const flannel: CniPlugin = {
  release: { repo: 'flannel-io/flannel', pinned: FLANNEL.version },
  carriesPods: true,
  readiness: { nodeReady: true, namespaces: ['kube-system', FLANNEL.namespace] },
  describe: (config) => `flannel ${config.cniManifest ? '(given manifest)' : describeRelease(flannel, config)}, pods in ${config.podNetworkCidr}`,
  ...manifestCni({
    name: 'flannel',
    plugin: () => flannel,
    source: flannelManifestSource,
    render: renderFlannelManifest,
    pinnedImages: FLANNEL.images,
    pinnedSha256: FLANNEL.manifestSha256,
    sets: { title: 'net-conf Network', full: 'net-conf.json Network' }
  }),

  leftovers: (paths) => ({
    files: [join(paths.cniConfDir, '10-flannel.conflist'), join(paths.cniBinDir, 'flannel')],
    dirs: [onHost(paths, FLANNEL.runDir), paths.cniStateDir],
    interfaces: [...FLANNEL.interfaces],
    mounts: []
  }),

  hostRoots: (paths) => [onHost(paths, FLANNEL.runDir)],
  // the subnet flanneld leased and the network it read: what the CNI plugin gives pods
  hostFiles: (paths) => [onHost(paths, join(FLANNEL.runDir, 'subnet.env'))],
  diagnostics: (_paths, kubectl, kubeconfig) => [
    { title: 'flannel logs', argv: [kubectl, 'logs', '-n', FLANNEL.namespace, '-l', 'app=flannel', '--all-containers', '--tail', '40'], env: { KUBECONFIG: kubeconfig }, requires: [kubectl, kubeconfig] }
  ],

  hints: [
    { pattern: /Failed to check br_netfilter/, hint: 'br_netfilter is not loaded: `sudo modprobe br_netfilter` (flannel crash-loops without it).' },
    { pattern: /failed to find plugin/, hint: 'No CNI plugins in /opt/cni/bin: the CNI plugins download or extraction failed.' }
  ]
}
