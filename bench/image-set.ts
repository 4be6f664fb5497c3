// The image set both benches preload: the control plane for v1.34.2, flannel's two images and
// nginx, each as [name, compressed layer sizes in MiB] close to the real images' (amd64, late
// 2026), so that layer count and the largest layer weigh as they do on a runner.
export const IMAGE_SET: ReadonlyArray<[string, number[]]> = [
  ['registry.k8s.io/kube-apiserver:v1.34.2', [0.8, 2, 30]],
  ['registry.k8s.io/kube-controller-manager:v1.34.2', [0.8, 2, 25]],
  ['registry.k8s.io/kube-scheduler:v1.34.2', [0.8, 2, 18]],
  ['registry.k8s.io/kube-proxy:v1.34.2', [0.8, 12, 18]],
  ['registry.k8s.io/coredns/coredns:v1.12.1', [0.8, 2, 19]],
  ['registry.k8s.io/pause:3.10.1', [0.3]],
  ['registry.k8s.io/etcd:3.6.4-0', [0.8, 2, 8, 12, 58]],
  ['ghcr.io/flannel-io/flannel:v0.28.4', [3.5, 5, 9, 14, 16]],
  ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1', [3.5, 2]],
  ['docker.io/library/nginx:stable-alpine', [3.5, 18, 1, 1, 1, 1, 1]]
]
