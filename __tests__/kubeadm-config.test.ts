// kubeadm-config and feature-gates: reading them, merging them into the rendered kubeadm
// configuration for both kubeadm API versions, and every way they are refused.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { looksLikePath, parseFeatureGates, parseKubeadmDocuments, type KubeadmPatch } from '../src/config/kubeadm-config.js'
import { InputError } from '../src/config/inputs.js'
import { kubeadmConfigProblems } from '../src/render/kubeadm-check.js'
import { renderKubeadmConfig, type KubeadmConfigOptions } from '../src/render/kubeadm.js'
import { mergePatch, sameJson, touches } from '../src/render/merge-patch.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { buildPlan } from '../src/phases/index.js'
import { config, hostedRunner } from './helpers/facts.js'

const docs = (text: string): any[] => parseAllDocuments(text).map((d) => d.toJS())
const byKind = (text: string): Record<string, any> => Object.fromEntries(docs(text).map((d) => [d.kind, d]))
const V4_VERSION = 'v1.34.2'
const V3_VERSION = 'v1.30.9'
const base: KubeadmConfigOptions = {
  kubernetesVersion: V4_VERSION,
  criSocket: 'unix:///run/kubeadm-single-node/containerd/containerd.sock',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  imageRepository: 'registry.k8s.io',
  untaint: true
}

/** kubeadm-config's documents from YAML, asserting they read cleanly. */
function patches(yaml: string): KubeadmPatch[] {
  const read = parseKubeadmDocuments(yaml, "Input 'kubeadm-config'")
  assert.deepEqual(read.problems, [])
  return read.patches
}
const problemsFor = (yaml: string, o: Partial<KubeadmConfigOptions> = {}): string[] => kubeadmConfigProblems({ ...base, ...o, patches: patches(yaml) })
const render = (yaml: string, o: Partial<KubeadmConfigOptions> = {}): Record<string, any> => byKind(renderKubeadmConfig({ ...base, ...o, patches: patches(yaml) }))

describe('merge patch (RFC 7386, as kind merges kubeadmConfigPatches)', () => {
  it('merges maps key by key, replaces lists and scalars whole, and removes a key given null', () => {
    const target = { a: { b: 1, c: [1, 2], d: 'x' }, keep: true, gone: 1 }
    const patch = { a: { c: [3], e: { f: 1 } }, gone: null, keep: false }
    assert.deepEqual(mergePatch(target, patch), { a: { b: 1, c: [3], d: 'x', e: { f: 1 } }, keep: false })
    assert.deepEqual(target, { a: { b: 1, c: [1, 2], d: 'x' }, keep: true, gone: 1 }, 'the target is left as it was')
  })

  it('lets a non-map patch replace a map, and a map patch replace a scalar', () => {
    assert.deepEqual(mergePatch({ a: { b: 1 } }, { a: [1] }), { a: [1] })
    assert.deepEqual(mergePatch({ a: 'x' }, { a: { b: null, c: 1 } }), { a: { c: 1 } })
  })

  it('shares nothing of the patch with the result', () => {
    const patch = { a: { list: [{ x: 1 }] } }
    const out = mergePatch({}, patch) as any
    out.a.list[0].x = 2
    assert.equal(patch.a.list[0].x, 1)
  })

  it('knows which patches can change a path', () => {
    assert.equal(touches({ networking: { podSubnet: 'x' } }, ['networking', 'podSubnet']), true)
    assert.equal(touches({ networking: null }, ['networking', 'podSubnet']), true, 'removing the parent removes it')
    assert.equal(touches({ networking: 'flat' }, ['networking', 'podSubnet']), true, 'replacing the parent replaces it')
    assert.equal(touches({ networking: { dnsDomain: 'x' } }, ['networking', 'podSubnet']), false)
    assert.equal(touches({}, ['kubernetesVersion']), false)
    assert.equal(sameJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true)
    assert.equal(sameJson([], [{}]), false)
  })
})

describe('kubeadm-config documents', () => {
  it('resolves YAML merge keys (<<: *anchor) before merging, as kubeadm reads them', () => {
    const yaml = 'kind: ClusterConfiguration\napiServer:\n  extraArgs: &args\n    - {name: v, value: "4"}\ncontrollerManager:\n  <<: {extraArgs: *args}\n'
    const read = parseKubeadmDocuments(yaml, 'X')
    assert.deepEqual(read.problems, [])
    assert.deepEqual(read.patches[0].fields, { apiServer: { extraArgs: [{ name: 'v', value: '4' }] }, controllerManager: { extraArgs: [{ name: 'v', value: '4' }] } })
  })

  it('reads one document per kind, without kind and apiVersion, numbered among the non-empty ones', () => {
    const read = parseKubeadmDocuments('---\nkind: ClusterConfiguration\nclusterName: ci\n---\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 50\n---\n', 'X')
    assert.deepEqual(read.problems, [])
    assert.deepEqual(read.patches, [
      { kind: 'ClusterConfiguration', apiVersion: undefined, fields: { clusterName: 'ci' }, doc: 1 },
      { kind: 'KubeletConfiguration', apiVersion: 'kubelet.config.k8s.io/v1beta1', fields: { maxPods: 50 }, doc: 2 }
    ])
  })

  const refused: Array<[string, string, RegExp]> = [
    ['invalid YAML', 'kind: ClusterConfiguration\nnetworking: [\n', /^Input 'kubeadm-config' is not valid YAML \(.*line \d+.*\); accepted: YAML documents of kind InitConfiguration/],
    ['a duplicate key', 'kind: ClusterConfiguration\nclusterName: a\nclusterName: b\n', /is not valid YAML \(Map keys must be unique/],
    ['a list', '- kind: ClusterConfiguration\n', /has document 1, which is a list, not a map/],
    ['a scalar', 'just words', /has document 1, which is the scalar "just words", not a map/],
    ['no kind', 'networking: {dnsDomain: x}\n', /has document 1 without a kind; accepted: one of InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration per document/],
    ['a kind kubeadm init does not read', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n', /has document 1 of kind "JoinConfiguration", which kubeadm init does not read/],
    ['another API group', 'apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n', /has document 1 \(ClusterConfiguration\) with apiVersion "kubeadm\.k8s\.io\/v1beta2"; accepted: kubeadm\.k8s\.io\/v1beta3 or kubeadm\.k8s\.io\/v1beta4, or no apiVersion/],
    ['a kubelet apiVersion that is not v1beta1', 'apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n', /accepted: kubelet\.config\.k8s\.io\/v1beta1, or no apiVersion/],
    ['a kind twice', 'kind: KubeletConfiguration\nmaxPods: 1\n---\nkind: KubeletConfiguration\nmaxPods: 2\n', /has KubeletConfiguration twice \(documents 1 and 2\); kubeadm refuses a kind given twice/],
    ['two kubeadm API versions', 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n', /mixes kubeadm\.k8s\.io\/v1beta3 and kubeadm\.k8s\.io\/v1beta4/]
  ]
  for (const [what, yaml, message] of refused) {
    it(`refuses ${what}`, () => {
      const read = parseKubeadmDocuments(yaml, "Input 'kubeadm-config'")
      assert.equal(read.problems.length, 1, read.problems.join('\n'))
      assert.match(read.problems[0], message)
    })
  }

  it('tells a path from YAML', () => {
    for (const p of ['kubeadm.yaml', './cfg/kubeadm patch.yml', '/tmp/a:b.yaml']) assert.equal(looksLikePath(p), true, p)
    for (const y of ['kind: ClusterConfiguration', '{kind: ClusterConfiguration}', 'kind:', 'a\nb']) assert.equal(looksLikePath(y), false, y)
  })
})

describe('feature-gates', () => {
  it("reads minikube's form, comma- or newline-separated, with comments", () => {
    const read = parseFeatureGates('InPlacePodVerticalScaling=true, UserNamespacesSupport=False\n# later\nSidecarContainers = TRUE # on\n')
    assert.deepEqual(read.problems, [])
    assert.deepEqual(read.gates, [
      { name: 'InPlacePodVerticalScaling', enabled: true },
      { name: 'UserNamespacesSupport', enabled: false },
      { name: 'SidecarContainers', enabled: true }
    ])
    assert.deepEqual(parseFeatureGates('').gates, [])
  })

  it('refuses a name that is not CamelCase, a value that is not true or false, a missing value, a gate twice and a kubeadm gate', () => {
    const { problems } = parseFeatureGates('inPlace=true,Foo=yes,Bar,Baz=1,A-B=true,Twice=true,Twice=true,WaitForAllControlPlaneComponents=true')
    assert.equal(problems.length, 7, problems.join('\n'))
    for (const entry of ['inPlace=true', 'Foo=yes', 'Bar', 'Baz=1', 'A-B=true']) {
      assert.ok(problems.some((p) => p.startsWith(`Input 'feature-gates' has the entry ${JSON.stringify(entry)}; accepted: 'Name=true' or 'Name=false'`)), entry)
    }
    assert.ok(problems.includes("Input 'feature-gates' names Twice twice (Twice=true and Twice=true); accepted: each gate once."))
    assert.ok(problems.some((p) => /"WaitForAllControlPlaneComponents=true", a gate of kubeadm itself.*ClusterConfiguration featureGates/.test(p)))
  })
})

describe('the inputs', () => {
  it('read inline YAML into documents, and a one-line value as a path to read later', () => {
    const inline = config({ 'kubeadm-config': 'kind: ClusterConfiguration\nclusterName: ci\n', 'feature-gates': 'Foo=true' })
    assert.deepEqual(inline.kubeadmConfig, { patches: [{ kind: 'ClusterConfiguration', apiVersion: undefined, fields: { clusterName: 'ci' }, doc: 1 }] })
    assert.deepEqual(inline.featureGates, [{ name: 'Foo', enabled: true }])
    assert.deepEqual(config({ 'kubeadm-config': ' ./kubeadm-patch.yaml ' }).kubeadmConfig, { path: './kubeadm-patch.yaml' })
    const none = config()
    assert.equal(none.kubeadmConfig, undefined)
    assert.deepEqual(none.featureGates, [])
  })

  it('keep the indentation of inline YAML that starts indented', () => {
    const c = config({ 'kubeadm-config': '  kind: KubeletConfiguration\n  maxPods: 50\n' })
    assert.deepEqual(c.kubeadmConfig?.patches?.[0].fields, { maxPods: 50 })
  })

  it('report bad documents and gates with every other bad input', () => {
    assert.throws(
      () => config({ 'kubeadm-config': 'kind: JoinConfiguration\n', 'feature-gates': 'x=true', untaint: 'maybe' }),
      (err: unknown) => {
        assert.ok(err instanceof InputError)
        assert.equal(err.problems.length, 3)
        assert.match(err.message, /Input 'kubeadm-config' has document 1 of kind "JoinConfiguration"/)
        assert.match(err.message, /Input 'feature-gates' has the entry "x=true"/)
        assert.match(err.message, /Input 'untaint'/)
        return true
      }
    )
    assert.throws(() => config({ 'kubeadm-config': '~/kubeadm.yaml' }), /Input 'kubeadm-config' has the value "~\/kubeadm\.yaml"; accepted: a path to a YAML file .* not beginning with '~'/)
  })
})

describe('the merged kubeadm configuration', () => {
  const yaml = `
kind: ClusterConfiguration
clusterName: ci
networking:
  dnsDomain: ci.local
controllerManager:
  extraArgs:
    - name: node-monitor-grace-period
      value: 16s
---
kind: InitConfiguration
nodeRegistration:
  imagePullSerial: null
  kubeletExtraArgs:
    - name: v
      value: "4"
---
kind: KubeletConfiguration
maxPods: 50
featureGates:
  Existing: true
---
kind: KubeProxyConfiguration
mode: ipvs
`

  it('v1beta4: lays each document over its kind, keeps what an input sets, and removes what null names', () => {
    const k = render(yaml)
    assert.equal(k.ClusterConfiguration.apiVersion, 'kubeadm.k8s.io/v1beta4')
    assert.equal(k.ClusterConfiguration.clusterName, 'ci')
    assert.deepEqual(k.ClusterConfiguration.networking, { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'ci.local' }, 'maps merge')
    assert.deepEqual(k.ClusterConfiguration.controllerManager.extraArgs, [{ name: 'node-monitor-grace-period', value: '16s' }])
    assert.equal(k.InitConfiguration.nodeRegistration.criSocket, base.criSocket)
    assert.deepEqual(k.InitConfiguration.nodeRegistration.taints, [])
    assert.equal('imagePullSerial' in k.InitConfiguration.nodeRegistration, false, 'null removed the action default')
    assert.equal(k.KubeletConfiguration.cgroupDriver, 'systemd')
    assert.equal(k.KubeletConfiguration.maxPods, 50)
    assert.deepEqual(k.KubeProxyConfiguration, { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'ipvs' }, 'a kind the action does not render is appended')
    assert.deepEqual(docs(renderKubeadmConfig({ ...base, patches: patches(yaml) })).map((d) => d.kind), ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration'])
    assert.deepEqual(problemsFor(yaml), [])
  })

  it('lists replace: a taint list equal to what untaint gives is accepted and written as given', () => {
    const taint = 'kind: InitConfiguration\nnodeRegistration:\n  taints:\n  - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}\n'
    assert.deepEqual(problemsFor(taint, { untaint: false }), [])
    assert.deepEqual(render(taint, { untaint: false }).InitConfiguration.nodeRegistration.taints, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }])
  })

  it('feature-gates, v1beta4: a {name, value} entry after the extraArgs kubeadm-config gives, and the kubelet gates merged', () => {
    const k = render(yaml, { featureGates: [{ name: 'InPlacePodVerticalScaling', enabled: true }, { name: 'Existing', enabled: true }] })
    const flag = { name: 'feature-gates', value: 'InPlacePodVerticalScaling=true,Existing=true' }
    assert.deepEqual(k.ClusterConfiguration.controllerManager.extraArgs, [{ name: 'node-monitor-grace-period', value: '16s' }, flag])
    assert.deepEqual(k.ClusterConfiguration.apiServer.extraArgs, [flag])
    assert.deepEqual(k.ClusterConfiguration.scheduler.extraArgs, [flag])
    assert.deepEqual(k.KubeletConfiguration.featureGates, { Existing: true, InPlacePodVerticalScaling: true })
  })

  it('feature-gates, v1beta3: the flag as a key of the extraArgs map', () => {
    const v3 = 'kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    audit-log-maxage: "7"\n'
    const k = render(v3, { kubernetesVersion: V3_VERSION, featureGates: [{ name: 'Foo', enabled: false }] })
    assert.equal(k.ClusterConfiguration.apiVersion, 'kubeadm.k8s.io/v1beta3')
    assert.deepEqual(k.ClusterConfiguration.apiServer.extraArgs, { 'audit-log-maxage': '7', 'feature-gates': 'Foo=false' })
    assert.deepEqual(k.ClusterConfiguration.controllerManager.extraArgs, { 'feature-gates': 'Foo=false' })
    assert.deepEqual(k.ClusterConfiguration.scheduler.extraArgs, { 'feature-gates': 'Foo=false' })
    assert.deepEqual(k.KubeletConfiguration.featureGates, { Foo: false })
    assert.deepEqual(problemsFor(v3, { kubernetesVersion: V3_VERSION, featureGates: [{ name: 'Foo', enabled: false }] }), [])
  })

  it('renders what it rendered before when neither input is given', () => {
    assert.equal(renderKubeadmConfig({ ...base, patches: [], featureGates: [] }), renderKubeadmConfig(base))
  })

  it('accepts the apiVersion the Kubernetes version reads, and an input value repeated', () => {
    assert.deepEqual(problemsFor('apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: 1.30.9\nnetworking: {podSubnet: 10.244.0.0/16}\n', { kubernetesVersion: V3_VERSION }), [])
    assert.deepEqual(problemsFor('kind: KubeletConfiguration\ncgroupDriver: systemd\ncontainerRuntimeEndpoint: null\nstaticPodPath: /etc/kubernetes/manifests\n'), [])
  })
})

describe('kubeadm-config refused against the version and the inputs', () => {
  const one = (yaml: string, o: Partial<KubeadmConfigOptions> = {}): string => {
    const p = problemsFor(yaml, o)
    assert.equal(p.length, 1, p.join('\n'))
    return p[0]
  }

  it('an apiVersion the Kubernetes version does not read, both ways', () => {
    assert.equal(
      one('apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n'),
      "Inputs 'kubeadm-config' and 'kubernetes-version' conflict: document 1 (InitConfiguration) has apiVersion kubeadm.k8s.io/v1beta3, but Kubernetes v1.34.2 is configured with kubeadm.k8s.io/v1beta4; accepted: apiVersion kubeadm.k8s.io/v1beta4, or none (the action's own then applies)."
    )
    assert.match(one('apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n', { kubernetesVersion: 'v1.28.0' }), /has apiVersion kubeadm\.k8s\.io\/v1beta4, but Kubernetes v1\.28\.0 is configured with kubeadm\.k8s\.io\/v1beta3/)
  })

  const owned: Array<[string, string, string, RegExp]> = [
    ['podSubnet', 'kind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.10.0.0/16\n', 'pod-network-cidr', /document 1 \(ClusterConfiguration\) makes networking\.podSubnet "10\.10\.0\.0\/16", but 'pod-network-cidr' gives "10\.244\.0\.0\/16" \(it also configures the CNI\); accepted: networking\.podSubnet left out of kubeadm-config or equal to that, with 'pod-network-cidr' set instead\./],
    ['serviceSubnet', 'kind: ClusterConfiguration\nnetworking: {serviceSubnet: 10.100.0.0/16}\n', 'service-cidr', /makes networking\.serviceSubnet "10\.100\.0\.0\/16", but 'service-cidr' gives "10\.96\.0\.0\/12"/],
    ['imageRepository', 'kind: ClusterConfiguration\nimageRepository: mirror.example/k8s\n', 'image-repository', /makes imageRepository "mirror\.example\/k8s", but 'image-repository' gives "registry\.k8s\.io"/],
    ['kubernetesVersion', 'kind: ClusterConfiguration\nkubernetesVersion: v1.34.1\n', 'kubernetes-version', /makes kubernetesVersion "v1\.34\.1", but 'kubernetes-version' gives "v1\.34\.2"/],
    ['criSocket', 'kind: InitConfiguration\nnodeRegistration: {criSocket: unix:///var/run/crio/crio.sock}\n', 'container-runtime', /makes nodeRegistration\.criSocket "unix:\/\/\/var\/run\/crio\/crio\.sock", but 'container-runtime' gives "unix:\/\/\/run\/kubeadm-single-node\/containerd\/containerd\.sock"/],
    ['taints', 'kind: InitConfiguration\nnodeRegistration:\n  taints: [{key: a, effect: NoSchedule}]\n', 'untaint', /makes nodeRegistration\.taints \[\{"key":"a","effect":"NoSchedule"\}\], but 'untaint' gives \[\]/],
    ['cgroupDriver', 'kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n', 'container-runtime', /makes cgroupDriver "cgroupfs", but 'container-runtime' gives "systemd" \(the runtime is set up with the systemd cgroup driver\)/],
    ['containerRuntimeEndpoint', 'kind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///run/containerd/containerd.sock\n', 'container-runtime', /makes containerRuntimeEndpoint "unix:\/\/\/run\/containerd\/containerd\.sock"/],
    ["kube-proxy's clusterCIDR", 'kind: KubeProxyConfiguration\nclusterCIDR: 10.1.0.0/16\n', 'pod-network-cidr', /document 1 \(KubeProxyConfiguration\) makes clusterCIDR "10\.1\.0\.0\/16"/]
  ]
  for (const [what, yaml, input, message] of owned) {
    it(`a field an input sets: ${what}, naming both inputs`, () => {
      const p = one(yaml)
      assert.ok(p.startsWith(`Inputs 'kubeadm-config' and '${input}' conflict: `), p)
      assert.match(p, message)
    })
  }

  it('a map an input sets a field in, removed whole', () => {
    const p = problemsFor('kind: ClusterConfiguration\nnetworking: null\n')
    assert.equal(p.length, 2, p.join('\n'))
    assert.match(p[0], /^Inputs 'kubeadm-config' and 'pod-network-cidr' conflict: document 1 \(ClusterConfiguration\) makes networking\.podSubnet nothing \(removed\)/)
    assert.match(p[1], /^Inputs 'kubeadm-config' and 'service-cidr' conflict: .* makes networking\.serviceSubnet nothing \(removed\)/)
  })

  it('names the file kubeadm-config came from', () => {
    const p = kubeadmConfigProblems({ ...base, patches: patches('kind: ClusterConfiguration\nimageRepository: x\n') }, `'kubeadm-config' (the file "/tmp/k.yaml")`)
    assert.match(p[0], /^Inputs 'kubeadm-config' \(the file "\/tmp\/k\.yaml"\) and 'image-repository' conflict/)
  })

  it("a field only the other kubeadm API version has, which kubeadm would ignore", () => {
    assert.match(one('kind: InitConfiguration\ntimeouts: {controlPlaneComponentHealthCheck: 8m}\n', { kubernetesVersion: V3_VERSION }), /sets timeouts, which only kubeadm\.k8s\.io\/v1beta4 has, but Kubernetes v1\.30\.9 is configured with kubeadm\.k8s\.io\/v1beta3, where kubeadm would ignore it; accepted: fields of kubeadm\.k8s\.io\/v1beta3 \(there: apiServer\.timeoutForControlPlane in ClusterConfiguration\)/)
    assert.match(one('kind: InitConfiguration\nnodeRegistration: {imagePullSerial: true}\n', { kubernetesVersion: V3_VERSION }), /sets nodeRegistration\.imagePullSerial, which only kubeadm\.k8s\.io\/v1beta4 has/)
    assert.match(one('kind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P256\n', { kubernetesVersion: V3_VERSION }), /sets encryptionAlgorithm, which only kubeadm\.k8s\.io\/v1beta4 has/)
    assert.match(one('kind: ClusterConfiguration\napiServer: {timeoutForControlPlane: 8m}\n'), /sets apiServer\.timeoutForControlPlane, which only kubeadm\.k8s\.io\/v1beta3 has.*\(there: timeouts\.controlPlaneComponentHealthCheck in InitConfiguration\)/)
  })

  it('extraArgs in the shape the other API version reads, or with values that are not strings', () => {
    assert.match(one('kind: ClusterConfiguration\napiServer:\n  extraArgs: {v: "4"}\n'), /^Inputs 'kubeadm-config' and 'kubernetes-version' conflict: document 1 \(ClusterConfiguration\) gives apiServer\.extraArgs as \{"v":"4"\}, but Kubernetes v1\.34\.2 is configured with kubeadm\.k8s\.io\/v1beta4; accepted: a list of \{name, value\} entries/)
    assert.match(one('kind: ClusterConfiguration\nscheduler:\n  extraArgs: [{name: v, value: "4"}]\n', { kubernetesVersion: V3_VERSION }), /gives scheduler\.extraArgs as .* kubeadm\.k8s\.io\/v1beta3; accepted: a map of flag names to string values/)
    assert.match(one('kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs: {v: 4}\n', { kubernetesVersion: V3_VERSION }), /gives nodeRegistration\.kubeletExtraArgs as \{"v":4\}/)
    assert.match(one('kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs: [{name: v, value: 4}]\n'), /gives etcd\.local\.extraArgs as \[\{"name":"v","value":4\}\]/)
  })

  it("a kubelet staticPodPath away from where kubeadm writes the control plane's pods", () => {
    assert.match(one('kind: KubeletConfiguration\nstaticPodPath: /srv/manifests\n'), /^Input 'kubeadm-config' has document 1 \(KubeletConfiguration\) staticPodPath "\/srv\/manifests"; accepted: \/etc\/kubernetes\/manifests or none/)
  })

  it("values kubeadm's own validation refuses", () => {
    assert.equal(one('kind: ClusterConfiguration\nnetworking: {dnsDomain: Cluster_Local}\n'), `Input 'kubeadm-config' has document 1 (ClusterConfiguration) networking.dnsDomain "Cluster_Local", which kubeadm refuses; accepted: a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), such as 'cluster.local'.`)
    assert.match(one('kind: ClusterConfiguration\ncertificatesDir: pki\n'), /certificatesDir "pki", which kubeadm refuses; accepted: an absolute path/)
    assert.match(one('kind: InitConfiguration\nnodeRegistration: {name: Runner.VM}\n'), /nodeRegistration\.name "Runner\.VM", which kubeadm refuses/)
    assert.deepEqual(problemsFor('kind: ClusterConfiguration\nnetworking: {dnsDomain: ci.local}\ncertificatesDir: /etc/kubernetes/pki\n---\nkind: InitConfiguration\nnodeRegistration: {name: runner-1}\n'), [])
  })

  it("a directory cleanup's kubeadm reset empties, outside kubeadm's own directories", () => {
    // certificatesDir: /etc would have cleanup's kubeadm reset empty /etc
    assert.equal(
      one('kind: ClusterConfiguration\ncertificatesDir: /etc\n'),
      `Input 'kubeadm-config' has document 1 (ClusterConfiguration) certificatesDir "/etc", a directory that cleanup's kubeadm reset empties as root; accepted: an absolute path written without '.', '..' or '//', in one of kubeadm's own directories: /etc/kubernetes, /var/lib/etcd, /var/lib/kubelet (or the field left out: /etc/kubernetes/pki).`
    )
    assert.match(one('kind: ClusterConfiguration\netcd: {local: {dataDir: /home/runner}}\n'), /etcd\.local\.dataDir "\/home\/runner", a directory that cleanup's kubeadm reset empties as root; accepted: .* \(or the field left out: \/var\/lib\/etcd\)\.$/)
    // a way out of the accepted places written inside them, a prefix that is not a directory of them, not a string
    for (const dir of ['/etc/kubernetes/../../etc', '/etc/kubernetes/./pki', '/etc//kubernetes/pki', '/etc/kubernetes-pki', '/var/lib/etcd2', 'var/lib/etcd', '5']) {
      assert.match(one(`kind: ClusterConfiguration\netcd: {local: {dataDir: ${JSON.stringify(dir)}}}\n`), /a directory that cleanup's kubeadm reset empties as root/, dir)
    }
    assert.match(one('kind: ClusterConfiguration\netcd: {local: {dataDir: 5}}\n'), /dataDir 5, a directory/)
    // a relative certificatesDir: kubeadm's own refusal, once
    assert.equal(problemsFor('kind: ClusterConfiguration\ncertificatesDir: pki\n').length, 1)
    // kubeadm's directories, and below them, are accepted; so is a field removed (null: kubeadm's default)
    assert.deepEqual(problemsFor('kind: ClusterConfiguration\ncertificatesDir: /etc/kubernetes/pki-ci/\netcd: {local: {dataDir: /var/lib/etcd}}\n'), [])
    assert.deepEqual(problemsFor('kind: ClusterConfiguration\ncertificatesDir: /var/lib/kubelet/pki\netcd: {local: {dataDir: /var/lib/etcd/member-ci}}\n'), [])
    assert.deepEqual(problemsFor('kind: ClusterConfiguration\ncertificatesDir: null\n'), [])
  })

  it('kubelet featureGates that are not a map of booleans', () => {
    assert.match(one('kind: KubeletConfiguration\nfeatureGates: {Foo: "yes"}\n'), /featureGates \{"Foo":"yes"\}; accepted: a map of gate names to true or false/)
    assert.match(one('kind: KubeletConfiguration\nfeatureGates: Foo=true\n'), /featureGates "Foo=true"/)
  })

  it('feature gates given both ways', () => {
    const gates = [{ name: 'Foo', enabled: true }]
    const both = (p: string): void => assert.ok(p.startsWith("Inputs 'kubeadm-config' and 'feature-gates' conflict: "), p)
    const v4 = one('kind: ClusterConfiguration\napiServer:\n  extraArgs: [{name: feature-gates, value: Bar=true}]\n', { featureGates: gates })
    both(v4)
    assert.match(v4, /gives apiServer\.extraArgs a feature-gates flag of its own/)
    both(one("kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs: {feature-gates: 'Bar=true'}\n", { featureGates: gates, kubernetesVersion: V3_VERSION }))
    both(one('kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs: [{name: feature-gates, value: Foo=true}]\n', { featureGates: gates }))
    const kubelet = one('kind: KubeletConfiguration\nfeatureGates: {Foo: false}\n', { featureGates: gates })
    both(kubelet)
    assert.match(kubelet, /sets featureGates\.Foo to false, feature-gates to true/)
    assert.deepEqual(problemsFor('kind: KubeletConfiguration\nfeatureGates: {Foo: true, Bar: false}\n', { featureGates: gates }), [], 'the same value twice is no conflict')
    assert.deepEqual(problemsFor('kind: ClusterConfiguration\napiServer:\n  extraArgs: [{name: feature-gates, value: Bar=true}]\n'), [], 'a flag of its own is fine without feature-gates')
  })

  it('reports every problem at once', () => {
    const p = problemsFor('apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.1.0.0/16}\n---\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n')
    assert.equal(p.length, 3, p.join('\n'))
  })
})

describe("the README's example", () => {
  it('is accepted for the release it names, and merges as the README says', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Passing kubeadm configuration'))
    const block = /```yaml\n([\s\S]*?)```/.exec(section)![1]
    const step = parseYaml(block)[0]
    const plan = buildPlan({ config: config(step.with), facts: hostedRunner, version: step.with['kubernetes-version'], paths: HOST_PATHS })
    assert.deepEqual(plan.inputProblems, [])
    const write = plan.steps.find((x) => x.id === 'config.kubeadm')!.ops.find((o) => o.kind === 'write')!
    assert.ok(write.kind === 'write')
    const k = byKind(write.render(plan.learned))
    assert.deepEqual(k.ClusterConfiguration.apiServer.extraArgs, [{ name: 'audit-log-maxage', value: '7' }, { name: 'feature-gates', value: 'InPlacePodVerticalScaling=true' }])
    assert.equal(k.KubeletConfiguration.maxPods, 50)
  })
})
