// Where each verified download comes from: the release bucket for Kubernetes, GitHub (or a
// mirror of its release paths) for crictl and the CNI plugins.
import { CNI_PLUGINS_VERSION } from '../config/defaults.js'
import type { SourcesInputs } from '../config/inputs.js'
import { crictlCandidates } from '../config/kubernetes.js'
import { minorOf } from '../config/versions.js'
import { PIN_SOURCE, pinnedDigest } from '../config/pins.js'
import type { Artifact } from '../host/download.js'

export type ArtifactName = 'kubeadm' | 'kubelet' | 'kubectl' | 'crictl' | 'cni-plugins'

export function crictlArtifact(githubUrl: string, crictl: string, arch: string): Artifact {
  const url = `${githubUrl}/kubernetes-sigs/cri-tools/releases/download/${crictl}/crictl-${crictl}-linux-${arch}.tar.gz`
  return { name: 'crictl', url, checksumUrl: `${url}.sha256`, pinned: pinnedDigest('crictl', crictl, arch), pinSource: PIN_SOURCE, input: 'github-url' }
}

/** The crictl releases the run tries, in order (more than one only for a minor newer than the version table). */
export function crictlReleases(config: SourcesInputs, version: string, arch: string): Array<{ version: string; artifact: Artifact }> {
  return crictlCandidates(minorOf(version)).map((v) => ({ version: v, artifact: crictlArtifact(config.githubUrl, v, arch) }))
}

/**
 * kubeadm, kubelet and kubectl in one gzipped tarball, published beside the bare binaries
 * with its own .sha256 (kubernetes/release's krel writes one for every release file). Go
 * binaries gzip to about a third of their size (crictl, built as the release builds
 * Kubernetes, -s -w: 28.0 MB to 10.2 MB), so the tarball is well under half the three bare
 * binaries though it also holds kube-proxy, which a kubeadm cluster runs from its image.
 */
export function nodeTarball(config: SourcesInputs, version: string, arch: string): Artifact {
  const url = `${config.kubernetesReleaseUrl}/${version}/kubernetes-node-linux-${arch}.tar.gz`
  return { name: 'kubernetes-node', url, checksumUrl: `${url}.sha256`, input: 'kubernetes-release-url' }
}

/** Where in the node tarball each binary is. */
export const NODE_TARBALL_BIN = 'kubernetes/node/bin'

export function artifacts(config: SourcesInputs, version: string, arch: string): Record<ArtifactName, Artifact> {
  const k8s = (name: string): Artifact => {
    const url = `${config.kubernetesReleaseUrl}/${version}/bin/linux/${arch}/${name}`
    return { name, url, checksumUrl: `${url}.sha256`, input: 'kubernetes-release-url' }
  }
  const cniUrl = `${config.githubUrl}/containernetworking/plugins/releases/download/${CNI_PLUGINS_VERSION}/cni-plugins-linux-${arch}-${CNI_PLUGINS_VERSION}.tgz`
  return {
    kubeadm: k8s('kubeadm'),
    kubelet: k8s('kubelet'),
    kubectl: k8s('kubectl'),
    crictl: crictlReleases(config, version, arch)[0].artifact,
    'cni-plugins': { name: 'cni-plugins', url: cniUrl, checksumUrl: `${cniUrl}.sha256`, pinned: pinnedDigest('cni-plugins', CNI_PLUGINS_VERSION, arch), pinSource: PIN_SOURCE, input: 'github-url' }
  }
}
