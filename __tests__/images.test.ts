import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isImageReference, normalizeImage, parseImageRef } from '../src/images/ref.js'
import { corednsImage, imagesToPreload, parseKubeadmImageList, pauseImage, predictKubeadmImages } from '../src/images/kubeadm.js'

describe('image lists', () => {
  it('predicts kubeadm v1.34.2 on registry.k8s.io with the nested coredns path', () => {
    assert.deepEqual(predictKubeadmImages('v1.34.2', 'registry.k8s.io'), [
      'registry.k8s.io/kube-apiserver:v1.34.2',
      'registry.k8s.io/kube-controller-manager:v1.34.2',
      'registry.k8s.io/kube-scheduler:v1.34.2',
      'registry.k8s.io/kube-proxy:v1.34.2',
      'registry.k8s.io/coredns/coredns:v1.12.1',
      'registry.k8s.io/pause:3.10.1',
      'registry.k8s.io/etcd:3.6.5-0'
    ])
  })

  it('uses the flat layout for any other repository, pause included', () => {
    const list = predictKubeadmImages('v1.34.2', 'registry.aliyuncs.com/google_containers')!
    assert.ok(list.includes('registry.aliyuncs.com/google_containers/coredns:v1.12.1'))
    assert.ok(list.includes('registry.aliyuncs.com/google_containers/pause:3.10.1'))
    assert.ok(list.every((i) => i.startsWith('registry.aliyuncs.com/google_containers/')))
    assert.equal(corednsImage('registry.k8s.io/mirror', 'v1'), 'registry.k8s.io/mirror/coredns:v1')
  })

  it('does not guess for a minor it has no table entry for', () => {
    assert.equal(predictKubeadmImages('v1.40.0', 'registry.k8s.io'), undefined)
  })

  it("reads kubeadm's own list, ignoring its log lines", () => {
    const out = 'W1125 17:00:00.000000 123 version.go:104] could not fetch\nregistry.k8s.io/kube-apiserver:v1.34.2\nregistry.k8s.io/pause:3.10.1\n'
    const list = parseKubeadmImageList(out)
    assert.deepEqual(list, ['registry.k8s.io/kube-apiserver:v1.34.2', 'registry.k8s.io/pause:3.10.1'])
    assert.equal(pauseImage(list), 'registry.k8s.io/pause:3.10.1')
    assert.throws(() => parseKubeadmImageList('\n'), /listed no images/)
  })

  it('normalizes and de-duplicates the preload set', () => {
    assert.deepEqual(
      imagesToPreload({ kubeadm: ['registry.k8s.io/pause:3.10.1'], cni: ['ghcr.io/flannel-io/flannel:v0.28.9'], smoke: 'nginx:stable-alpine', extra: ['docker.io/library/nginx:stable-alpine', 'busybox'] }),
      ['registry.k8s.io/pause:3.10.1', 'ghcr.io/flannel-io/flannel:v0.28.9', 'docker.io/library/nginx:stable-alpine', 'docker.io/library/busybox:latest']
    )
  })
})

describe('image references', () => {
  it('follows Docker naming rules', () => {
    assert.equal(normalizeImage('nginx'), 'docker.io/library/nginx:latest')
    assert.equal(normalizeImage('bitnami/nginx:1'), 'docker.io/bitnami/nginx:1')
    assert.equal(normalizeImage('localhost:5000/x'), 'localhost:5000/x:latest')
    assert.equal(normalizeImage('index.docker.io/library/nginx:1'), 'docker.io/library/nginx:1')
    assert.deepEqual(parseImageRef('127.0.0.1:5000/google_containers/pause:3.10'), { registry: '127.0.0.1:5000', path: 'google_containers/pause', tag: '3.10', digest: undefined })
  })

  it('refuses what is not a reference', () => {
    for (const bad of ['', 'UPPER/case', 'a b', 'nginx:', 'nginx@sha256:short', 'x;reboot', '-rf']) assert.equal(isImageReference(bad), false, bad)
  })
})
