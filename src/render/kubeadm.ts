// kubeadm's config file. Pure: values in, YAML out, rendered by a real serializer.
import { stringify } from 'yaml'
import { kubeadmApiVersion } from '../config/kubernetes.js'

export interface KubeadmConfigOptions {
  kubernetesVersion: string
  criSocket: string
  podSubnet: string
  serviceSubnet: string
  imageRepository: string
  untaint: boolean
}

/** kubeadm's default control-plane taint, kept when untaint is false. */
export const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }

export function renderKubeadmConfig(o: KubeadmConfigOptions): string {
  const apiVersion = kubeadmApiVersion(o.kubernetesVersion)
  const v1beta4 = apiVersion.endsWith('v1beta4')
  const nodeRegistration: Record<string, unknown> = {
    criSocket: o.criSocket,
    // An explicit empty list means "no taint"; omitting the field means kubeadm's default taint.
    taints: o.untaint ? [] : [CONTROL_PLANE_TAINT]
  }
  if (v1beta4) nodeRegistration.imagePullSerial = false
  const init = { apiVersion, kind: 'InitConfiguration', nodeRegistration }
  const cluster: Record<string, unknown> = {
    apiVersion,
    kind: 'ClusterConfiguration',
    kubernetesVersion: o.kubernetesVersion,
    imageRepository: o.imageRepository,
    networking: { podSubnet: o.podSubnet, serviceSubnet: o.serviceSubnet }
  }
  const kubelet = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'systemd'
  }
  return [init, cluster, kubelet].map((doc) => stringify(doc)).join('---\n')
}
