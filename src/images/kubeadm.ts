// Which images the cluster will ask for, under exactly the names it will ask for them.
import { imageTagsFor } from '../config/kubernetes.js'
import { normalizeImage } from './ref.js'

const DEFAULT_REPOSITORY = 'registry.k8s.io'

/**
 * kubeadm's naming rules: with exactly registry.k8s.io, coredns lives at
 * registry.k8s.io/coredns/coredns; with any other repository R it is R/coredns (flat).
 * The pause image follows the repository too.
 */
export function corednsImage(repository: string, tag: string): string {
  return repository === DEFAULT_REPOSITORY ? `${repository}/coredns/coredns:${tag}` : `${repository}/coredns:${tag}`
}

/** kubeadm's list predicted from its constants, or undefined for a version the table lacks. */
export function predictKubeadmImages(version: string, repository: string): string[] | undefined {
  const tags = imageTagsFor(version)
  if (!tags) return undefined
  return [
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((c) => `${repository}/${c}:${version}`),
    corednsImage(repository, tags.coredns),
    `${repository}/pause:${tags.pause}`,
    `${repository}/etcd:${tags.etcd}`
  ]
}

/** The lines `kubeadm config images list` prints. */
export function parseKubeadmImageList(stdout: string): string[] {
  const images = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('W') && !l.startsWith('I') && l.includes(':'))
  if (images.length === 0) throw new Error(`kubeadm listed no images (it printed ${JSON.stringify(stdout.slice(0, 200))})`)
  return images
}

export function pauseImage(kubeadmImages: readonly string[]): string | undefined {
  return kubeadmImages.find((i) => /\/pause:[^/]+$/.test(i))
}

/** Every image to have in the runtime before kubeadm init, normalized and without repeats. */
export function imagesToPreload(parts: { kubeadm: readonly string[]; cni: readonly string[]; smoke?: string; extra: readonly string[] }): string[] {
  const all = [...parts.kubeadm, ...parts.cni, ...(parts.smoke ? [parts.smoke] : []), ...parts.extra]
  return [...new Set(all.map(normalizeImage))]
}
