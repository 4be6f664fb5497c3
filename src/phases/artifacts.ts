// Where each verified download comes from: the release bucket for Kubernetes, GitHub (or a
// mirror of its release paths) for crictl and the CNI plugins.
import { CNI_PLUGINS_VERSION } from '../config/defaults.js'
import type { SourcesInputs } from '../config/inputs.js'
import { crictlVersion } from '../config/kubernetes.js'
import { minorOf } from '../config/versions.js'
import type { Artifact } from '../host/download.js'

export type ArtifactName = 'kubeadm' | 'kubelet' | 'kubectl' | 'crictl' | 'cni-plugins'

export function artifacts(config: SourcesInputs, version: string, arch: string): Record<ArtifactName, Artifact> {
  const k8s = (name: string): Artifact => {
    const url = `${config.kubernetesReleaseUrl}/${version}/bin/linux/${arch}/${name}`
    return { name, url, checksumUrl: `${url}.sha256`, input: 'kubernetes-release-url' }
  }
  const crictl = crictlVersion(minorOf(version))
  const crictlUrl = `${config.githubUrl}/kubernetes-sigs/cri-tools/releases/download/${crictl}/crictl-${crictl}-linux-${arch}.tar.gz`
  const cniUrl = `${config.githubUrl}/containernetworking/plugins/releases/download/${CNI_PLUGINS_VERSION}/cni-plugins-linux-${arch}-${CNI_PLUGINS_VERSION}.tgz`
  return {
    kubeadm: k8s('kubeadm'),
    kubelet: k8s('kubelet'),
    kubectl: k8s('kubectl'),
    crictl: { name: 'crictl', url: crictlUrl, checksumUrl: `${crictlUrl}.sha256`, input: 'github-url' },
    'cni-plugins': { name: 'cni-plugins', url: cniUrl, checksumUrl: `${cniUrl}.sha256`, input: 'github-url' }
  }
}
