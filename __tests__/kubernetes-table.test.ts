// The one table per Kubernetes minor: what kubeadm asks for by patch, which containerd each
// minor supports, and which kubeadm API and crictl go with it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { containerdRequirement, containerdSupported, crictlCandidates, crictlVersion, imageTagsFor, kubeadmApiFromDefaults, kubeadmApiVersion, KUBERNETES_MINORS, NEWEST_MINOR, rulesFor } from '../src/config/kubernetes.js'

describe('the Kubernetes version table', () => {
  it('has one row per minor, in order, each with images from patch 0 on', () => {
    KUBERNETES_MINORS.forEach((row, i) => {
      if (i > 0) assert.equal(row.minor, KUBERNETES_MINORS[i - 1].minor + 1, 'minors are contiguous')
      assert.equal(row.images[0].from, 0, `1.${row.minor} starts at patch 0`)
      for (let j = 1; j < row.images.length; j++) assert.ok(row.images[j].from > row.images[j - 1].from, `1.${row.minor} ranges ascend`)
      assert.ok(row.knownThrough >= row.images[row.images.length - 1].from)
      assert.equal(row.crictl, `v1.${row.minor}.0`)
    })
  })

  it("names kubeadm's images by patch where they changed inside a minor", () => {
    assert.equal(imageTagsFor('v1.34.0')!.etcd, '3.6.4-0')
    assert.equal(imageTagsFor('v1.34.1')!.etcd, '3.6.4-0')
    assert.equal(imageTagsFor('v1.34.2')!.etcd, '3.6.5-0')
    assert.equal(imageTagsFor('v1.33.5')!.etcd, '3.5.21-0')
    assert.equal(imageTagsFor('v1.33.6')!.etcd, '3.5.24-0')
    assert.equal(imageTagsFor('v1.32.10')!.etcd, '3.5.24-0')
    assert.equal(imageTagsFor('v1.31.14')!.etcd, '3.5.24-0')
    assert.deepEqual(imageTagsFor('v1.30.4'), { pause: '3.9', coredns: 'v1.11.1', etcd: '3.5.12-0', checked: true })
    assert.deepEqual(imageTagsFor('v1.30.5'), { pause: '3.9', coredns: 'v1.11.3', etcd: '3.5.15-0', checked: true })
    assert.deepEqual(imageTagsFor('v1.36.0'), { pause: '3.10.2', coredns: 'v1.14.2', etcd: '3.6.8-0', checked: true })
    assert.equal(imageTagsFor('v1.37.0')!.coredns, 'v1.14.6')
  })

  it('says where it cannot know: a later patch than it was checked against, a pre-release, an unknown minor', () => {
    assert.equal(imageTagsFor('v1.34.12')!.checked, true)
    assert.equal(imageTagsFor('v1.34.13')!.checked, false)
    assert.equal(imageTagsFor('v1.36.0-beta.0'), undefined)
    assert.equal(imageTagsFor('v1.40.0'), undefined)
  })

  it("knows which containerd each minor supports, by containerd's RELEASES.md", () => {
    const ok = (minor: number, v: string): boolean | undefined => containerdSupported(minor, v)
    // 1.35: 2.2.0+, 2.1.5+, 1.7.28+ (1.6 and 2.0 are not listed)
    assert.equal(ok(35, '2.2.0'), true)
    assert.equal(ok(35, '2.1.5'), true)
    assert.equal(ok(35, '2.1.4'), false)
    assert.equal(ok(35, '2.0.6'), false, 'a line between listed ones')
    assert.equal(ok(35, '1.7.28'), true)
    assert.equal(ok(35, '1.7.27'), false)
    assert.equal(ok(35, '1.6.39'), false, 'a line older than every listed one')
    assert.equal(ok(35, '2.3.1'), true, 'a line newer than every listed one')
    // 1.36: 2.3.0+, 2.2.0+ only
    assert.equal(ok(36, '2.2.0'), true)
    assert.equal(ok(36, '2.1.9'), false)
    assert.equal(ok(36, '1.7.30'), false)
    assert.equal(ok(27, '2.2.0'), undefined, 'a minor older than the table')
    assert.equal(containerdRequirement(35), '2.2.0+, 2.1.5+ or 1.7.28+')
  })

  it('picks the kubeadm API and crictl per minor, the newest for a minor newer than the table', () => {
    assert.equal(kubeadmApiVersion('v1.30.14'), 'kubeadm.k8s.io/v1beta3')
    assert.equal(kubeadmApiVersion('v1.31.0'), 'kubeadm.k8s.io/v1beta4')
    assert.equal(kubeadmApiVersion('v1.40.0'), 'kubeadm.k8s.io/v1beta4')
    assert.equal(crictlVersion(40), 'v1.40.0')
  })

  it("holds a minor newer than the table to the newest row's rules, and says it assumed them", () => {
    const next = NEWEST_MINOR + 1
    assert.deepEqual(rulesFor(NEWEST_MINOR), { row: KUBERNETES_MINORS.at(-1), assumed: false })
    assert.deepEqual(rulesFor(next), { row: KUBERNETES_MINORS.at(-1), assumed: true })
    assert.equal(rulesFor(27), undefined)
    // bookworm's containerd 1.6.20 served no row since 1.29: a new minor must not let it through
    assert.equal(containerdSupported(next, '1.6.20'), false)
    assert.equal(containerdSupported(next, '2.2.1'), true)
    assert.equal(containerdRequirement(next), containerdRequirement(NEWEST_MINOR))
  })

  it("tries a new minor's own crictl first, then up to two older ones; a table minor's alone", () => {
    assert.deepEqual(crictlCandidates(34), ['v1.34.0'])
    assert.deepEqual(crictlCandidates(NEWEST_MINOR + 1), [`v1.${NEWEST_MINOR + 1}.0`, `v1.${NEWEST_MINOR}.0`, `v1.${NEWEST_MINOR - 1}.0`])
  })

  it('reads the configuration API from what kubeadm config print init-defaults prints', () => {
    const printed = (api: string): string => `apiVersion: ${api}\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\nkind: InitConfiguration\n---\napiVersion: ${api}\nkind: ClusterConfiguration\n`
    assert.deepEqual(kubeadmApiFromDefaults(printed('kubeadm.k8s.io/v1beta3')), { api: 'kubeadm.k8s.io/v1beta3' })
    assert.deepEqual(kubeadmApiFromDefaults(printed('kubeadm.k8s.io/v1beta4')), { api: 'kubeadm.k8s.io/v1beta4' })
    const newer = kubeadmApiFromDefaults(printed('kubeadm.k8s.io/v1beta5'))
    assert.equal(newer.api, 'kubeadm.k8s.io/v1beta4')
    assert.match(newer.note!, /v1beta5, newer than this action knows/)
    assert.throws(() => kubeadmApiFromDefaults('W1202 some warning\n'), /named no kubeadm\.k8s\.io apiVersion/)
  })
})
