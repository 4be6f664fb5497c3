// What steps learn as the plan runs and later steps read: one object, seeded with
// predictions so that a dry run can render every file without a cluster.
import type { KubeadmApi } from '../config/kubernetes.js'

export interface Learned {
  /** what kubeadm will ask for (control plane, etcd, coredns, pause), in kubeadm's order */
  kubeadmImages: string[]
  /** the configuration API kubeadm's config is written in: predicted by the table, then asked of kubeadm */
  kubeadmApi: KubeadmApi
  /** containerd's major version: probed, or learned when the plan installs a runtime */
  containerdMajor?: number
  /** the images the CNI manifest runs */
  cniImages: string[]
  /** the images the add-ons the inputs turn on run (src/addons) */
  addonImages?: string[]
  kubeconfig?: string
  nodeName?: string
  nodeIp?: string
  nodePort?: number
  nginxUrl?: string
  /** the address a LoadBalancer Service got (the load-balancer add-on's smoke check) */
  loadBalancerIp?: string
  /** epoch ms by which the cluster must be ready and the smoke test answered; set when the waiting starts */
  deadline?: number
  /** what images.early pulled before kubeadm named its images (phases/images.ts) */
  pulledEarly?: string[]
  /** what the preload put in the store, under the names the cluster asks for */
  preloaded?: string[]
  /** of those, what a cache entry may hold: pulled by the action, anonymously (phases/images.ts) */
  cacheable?: string[]
  /** how many images were already present, pulled, imported (image-archives), restored from the cache */
  imageCounts?: { present: number; pulled: number; imported: number; cached: number }
}

/** Placeholder shown by a dry run for a value only kubeadm can tell. */
export const FROM_KUBEADM = '<asked of kubeadm at run time>'
