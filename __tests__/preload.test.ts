import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CommandError } from '../src/host/exec.js'
import type { ImageStore } from '../src/images/store.js'
import { KUBEADM_IMAGES } from './helpers/facts.js'
import { classifyPullError, preloadImages, PullError, pullOrder } from '../src/images/preload.js'

/** A store whose pulls answer from a script per image: each entry is one attempt. */
function scriptedStore(have: string[], script: Record<string, string[]>): ImageStore & { pulls: string[]; active: number; peak: number } {
  const store = {
    pulls: [] as string[],
    active: 0,
    peak: 0,
    async list() {
      return new Set(have)
    },
    async pull(ref: string) {
      store.pulls.push(ref)
      store.active++
      store.peak = Math.max(store.peak, store.active)
      await new Promise((r) => setTimeout(r, 5))
      store.active--
      const next = script[ref]?.shift() ?? 'ok'
      if (next !== 'ok') throw new CommandError(['ctr', 'pull', ref], { exitCode: 1, stdout: '', stderr: next })
    },
    async importArchive() {
      return ['docker.io/library/imported:1']
    },
    async tag() {},
    async remove() {},
    async exportArchive() {
      throw new Error('the preload exports nothing')
    }
  }
  return store
}

describe('preload', () => {
  it('keeps what is present, pulls the rest concurrently', async () => {
    const images = ['a:1', 'b:1', 'c:1', 'd:1', 'e:1'].map((i) => `docker.io/library/${i}`)
    const store = scriptedStore([images[0]], {})
    const res = await preloadImages(store, { images, concurrency: 3, backoffMs: 1 })
    assert.deepEqual(res.present, [images[0]])
    assert.deepEqual(res.pulled.sort(), images.slice(1).sort())
    assert.equal(store.peak, 3)
  })

  it('retries server errors and succeeds', async () => {
    const img = 'registry.k8s.io/pause:3.10.1'
    const store = scriptedStore([], { [img]: ['unexpected status: 500 Internal Server Error', 'ok'] })
    const res = await preloadImages(store, { images: [img], backoffMs: 1 })
    assert.deepEqual(res.pulled, [img])
    assert.equal(store.pulls.length, 2)
  })

  it('gives up on a rate limit at once, naming mirrors as the way out', async () => {
    const img = 'docker.io/library/nginx:stable-alpine'
    const store = scriptedStore([], { [img]: ['429 Too Many Requests: toomanyrequests: You have reached your pull rate limit'] })
    await assert.rejects(preloadImages(store, { images: [img], backoffMs: 1, whereFor: () => ['https://registry-1.docker.io'] }), (err: Error) => {
      assert.ok(err instanceof PullError)
      assert.equal(err.failure, 'rate-limit')
      assert.match(err.message, /HTTP 429 \(rate limit\) \(looked at https:\/\/registry-1\.docker\.io\)/)
      assert.match(err.message, /registry-mirrors/)
      return true
    })
    assert.equal(store.pulls.length, 1)
  })

  it('names the missing image and where it looked', async () => {
    const img = 'mirror.example/google_containers/coredns:v1.12.1'
    const store = scriptedStore([], { [img]: ['failed to resolve reference: not found'] })
    await assert.rejects(preloadImages(store, { images: [img], whereFor: (r) => [`https://${r}`] }), /Image mirror\.example\/google_containers\/coredns:v1\.12\.1 was not found \(looked at https:\/\/mirror\.example\)/)
  })

  it('stops after the configured attempts for persistent server errors', async () => {
    const img = 'ghcr.io/flannel-io/flannel:v0.28.9'
    const store = scriptedStore([], { [img]: ['502 Bad Gateway', '502 Bad Gateway', '502 Bad Gateway', 'ok'] })
    await assert.rejects(preloadImages(store, { images: [img], attempts: 3, backoffMs: 1 }), /failed 3 times with a server or network error/)
    assert.equal(store.pulls.length, 3)
  })

  it('classifies pull errors', () => {
    assert.equal(classifyPullError('toomanyrequests'), 'rate-limit')
    assert.equal(classifyPullError('manifest unknown'), 'not-found')
    assert.equal(classifyPullError('503 Service Unavailable'), 'retryable')
    // a port or a digest that holds 429 is no rate limit (a bed registry on port 42913 once was)
    assert.equal(classifyPullError('failed to do request: Head "http://127.0.0.1:42913/v2/pause/manifests/3.10.1": EOF'), 'retryable')
    assert.equal(classifyPullError('unexpected status from HEAD request: 429 Too Many Requests'), 'rate-limit')
    assert.equal(classifyPullError('read: connection reset by peer'), 'retryable')
    assert.equal(classifyPullError('permission denied'), 'other')
  })
})

describe('image archives', () => {
  it('reads the names a docker-save or OCI archive declares', async () => {
    const { namesInArchiveIndex } = await import('../src/images/archive-index.js')
    assert.deepEqual(namesInArchiveIndex('manifest.json', JSON.stringify([{ RepoTags: ['nginx:stable-alpine', 'ghcr.io/flannel-io/flannel:v0.28.9'] }])), [
      'docker.io/library/nginx:stable-alpine',
      'ghcr.io/flannel-io/flannel:v0.28.9'
    ])
    const oci = { manifests: [{ annotations: { 'io.containerd.image.name': 'registry.k8s.io/pause:3.10.1', 'org.opencontainers.image.ref.name': '3.10.1' } }, { annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }
    assert.deepEqual(namesInArchiveIndex('index.json', JSON.stringify(oci)), ['registry.k8s.io/pause:3.10.1'])
  })
})

describe('pull order', () => {
  it('starts the image with the largest layer first, so that it overlaps the rest; unknown images in between', () => {
    const kubeadm = [...KUBEADM_IMAGES]
    const all = [...kubeadm, 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'ghcr.io/flannel-io/flannel:v0.28.9', 'docker.io/library/nginx:stable-alpine', 'docker.io/library/busybox:1.37']
    const order = pullOrder(all)
    assert.deepEqual(order.slice(0, 3), ['registry.k8s.io/etcd:3.6.5-0', 'registry.k8s.io/kube-apiserver:v1.34.2', 'registry.k8s.io/kube-controller-manager:v1.34.2'])
    assert.deepEqual(order.slice(-2), ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'registry.k8s.io/pause:3.10.1'])
    assert.ok(order.indexOf('docker.io/library/busybox:1.37') > order.indexOf('ghcr.io/flannel-io/flannel:v0.28.9'))
    assert.deepEqual([...order].sort(), [...all].sort(), 'every image, once')
    // a flat mirror names them the same way
    assert.equal(pullOrder(['m.example/google_containers/pause:3.10.1', 'm.example/google_containers/etcd:3.6.5-0'])[0], 'm.example/google_containers/etcd:3.6.5-0')
  })

  it('is the order the preload starts its pulls in', async () => {
    const images = ['registry.k8s.io/pause:3.10.1', 'docker.io/library/nginx:stable-alpine', 'registry.k8s.io/etcd:3.6.5-0']
    const store = scriptedStore([], {})
    await preloadImages(store, { images, concurrency: 1, backoffMs: 1 })
    assert.deepEqual(store.pulls, ['registry.k8s.io/etcd:3.6.5-0', 'docker.io/library/nginx:stable-alpine', 'registry.k8s.io/pause:3.10.1'])
  })
})
