// The image set both benches preload: the control plane for v1.34.2, flannel's two images and
// nginx, each as [name, compressed layer sizes in MiB] close to the real images' (amd64, late
// 2026), so that layer count and the largest layer weigh as they do on a runner.
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { buildImage, push } from '../__tests__/bed/images.js'

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

export interface Blob {
  digest: string
  size: number
}
export interface Pushed {
  name: string
  /** the repository path in the loopback registry */
  repo: string
  digest: string
  blobs: Blob[]
}

/** the manifest, config and layers of an OCI layout buildImage wrote */
async function layoutBlobs(layout: string): Promise<{ digest: string; blobs: Blob[] }> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'))
  const desc = index.manifests[0] as { digest: string; size: number }
  const manifest = JSON.parse(await readFile(join(layout, 'blobs', 'sha256', desc.digest.slice('sha256:'.length)), 'utf8'))
  return { digest: desc.digest, blobs: [{ digest: desc.digest, size: desc.size }, manifest.config, ...manifest.layers].map((b: Blob) => ({ digest: b.digest, size: b.size })) }
}

/**
 * Builds IMAGE_SET (each layer's size times `scale`) and pushes it to the loopback registry
 * at `registryHost` under each name's path; returns what the registry now serves.
 */
export async function pushImageSet(dir: string, registryHost: string, scale = 1): Promise<Pushed[]> {
  const MiB = 1024 * 1024
  const pushed: Pushed[] = []
  for (const [i, [name, layers]] of IMAGE_SET.entries()) {
    const layout = await buildImage(dir, `netbench${i}`, layers.map((m) => Math.max(1024, Math.round(m * scale * MiB))))
    const repo = name.replace(/^[^/]+\//, '')
    await push(layout, `${registryHost}/${repo}`)
    const { blobs } = await layoutBlobs(layout)
    const [path, tag] = [repo.slice(0, repo.lastIndexOf(':')), repo.slice(repo.lastIndexOf(':') + 1)]
    const head = await fetch(`http://${registryHost}/v2/${path}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' }
    })
    const digest = head.headers.get('docker-content-digest')
    if (!head.ok || !digest) throw new Error(`the registry does not answer for ${repo} (HTTP ${head.status})`)
    pushed.push({ name, repo: path, digest, blobs })
    await rm(layout, { recursive: true, force: true })
  }
  return pushed
}
