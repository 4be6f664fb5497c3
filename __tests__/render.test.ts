import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { renderContainerdConfig, renderHostsToml } from '../src/runtimes/containerd/config.js'
import { renderDaemonJson } from '../src/render/docker.js'
import { renderFlannelManifest } from '../src/cnis/flannel/manifest.js'
import { renderModulesLoad, renderSysctlConf } from '../src/render/host.js'
import { renderKubeadmConfig } from '../src/render/kubeadm.js'
import { parseKubeadmDocuments } from '../src/config/kubeadm-config.js'
import { renderSmokeManifest } from '../src/render/smoke.js'
import { kubeadmDropIn, kubeletUnit } from '../src/render/systemd.js'

const docs = (text: string): any[] => parseAllDocuments(text).map((d) => d.toJS())
const base = {
  criSocket: 'unix:///var/run/containerd/containerd.sock',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  imageRepository: 'registry.k8s.io',
  untaint: true
}

describe('kubeadm config', () => {
  it('uses v1beta4 from 1.31 with parallel pulls and an explicit empty taint list', () => {
    const [init, cluster, kubelet] = docs(renderKubeadmConfig({ ...base, kubernetesVersion: 'v1.34.2' }))
    assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta4')
    assert.equal(init.kind, 'InitConfiguration')
    assert.ok(Array.isArray(init.nodeRegistration.taints))
    assert.equal(init.nodeRegistration.taints.length, 0)
    assert.equal(init.nodeRegistration.imagePullSerial, false)
    assert.equal(init.nodeRegistration.criSocket, base.criSocket)
    assert.equal(cluster.kind, 'ClusterConfiguration')
    assert.equal(cluster.kubernetesVersion, 'v1.34.2')
    assert.deepEqual(cluster.networking, { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' })
    assert.equal(kubelet.kind, 'KubeletConfiguration')
    assert.equal(kubelet.cgroupDriver, 'systemd')
  })

  it('uses v1beta3 before 1.31, without v1beta4-only fields', () => {
    for (const v of ['v1.28.15', 'v1.30.9']) {
      const [init, cluster] = docs(renderKubeadmConfig({ ...base, kubernetesVersion: v }))
      assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta3')
      assert.equal(cluster.apiVersion, 'kubeadm.k8s.io/v1beta3')
      assert.equal('imagePullSerial' in init.nodeRegistration, false)
    }
    assert.equal(docs(renderKubeadmConfig({ ...base, kubernetesVersion: 'v1.31.0' }))[0].apiVersion, 'kubeadm.k8s.io/v1beta4')
  })

  it('fast-start runs a local etcd without fsync, in the form each kubeadm API takes; kubeadm-config overrides it, and an external etcd gets nothing', () => {
    const etcdArgs = (o: Partial<Parameters<typeof renderKubeadmConfig>[0]>, v = 'v1.34.2') => docs(renderKubeadmConfig({ ...base, kubernetesVersion: v, fastStart: true, ...o }))[1].etcd
    assert.deepEqual(etcdArgs({}), { local: { extraArgs: [{ name: 'unsafe-no-fsync', value: 'true' }] } })
    assert.deepEqual(etcdArgs({}, 'v1.30.9'), { local: { extraArgs: { 'unsafe-no-fsync': 'true' } } })
    assert.equal(docs(renderKubeadmConfig({ ...base, kubernetesVersion: 'v1.34.2', fastStart: false }))[1].etcd, undefined)
    const patch = (yaml: string) => parseKubeadmDocuments(yaml, 'kubeadm-config').patches
    // the user's own value for the flag wins; their other arguments stay, ours is added
    const own = patch('kind: ClusterConfiguration\napiVersion: kubeadm.k8s.io/v1beta4\netcd:\n  local:\n    extraArgs:\n    - {name: unsafe-no-fsync, value: "false"}\n')
    assert.deepEqual(etcdArgs({ patches: own }).local.extraArgs, [{ name: 'unsafe-no-fsync', value: 'false' }])
    const other = patch('kind: ClusterConfiguration\napiVersion: kubeadm.k8s.io/v1beta4\netcd:\n  local:\n    dataDir: /var/lib/etcd\n    extraArgs:\n    - {name: quota-backend-bytes, value: "8589934592"}\n')
    assert.deepEqual(etcdArgs({ patches: other }).local, { dataDir: '/var/lib/etcd', extraArgs: [{ name: 'quota-backend-bytes', value: '8589934592' }, { name: 'unsafe-no-fsync', value: 'true' }] })
    const external = patch('kind: ClusterConfiguration\napiVersion: kubeadm.k8s.io/v1beta4\netcd:\n  external:\n    endpoints: [https://10.0.0.9:2379]\n')
    assert.deepEqual(etcdArgs({ patches: external }), { external: { endpoints: ['https://10.0.0.9:2379'] } })
  })

  it('keeps the control-plane taint when untaint is false', () => {
    const [init] = docs(renderKubeadmConfig({ ...base, untaint: false, kubernetesVersion: 'v1.34.2' }))
    assert.deepEqual(init.nodeRegistration.taints, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }])
  })

  it('writes the image repository as given', () => {
    const [, cluster] = docs(renderKubeadmConfig({ ...base, imageRepository: 'registry.aliyuncs.com/google_containers', kubernetesVersion: 'v1.34.2' }))
    assert.equal(cluster.imageRepository, 'registry.aliyuncs.com/google_containers')
  })
})

describe('containerd config', () => {
  const common = { sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: '/etc/containerd/certs.d' }
  it('writes layout version 3 for containerd 2.x with CRI on and systemd cgroups', () => {
    const c = parseToml(renderContainerdConfig({ ...common, major: 2 })) as any
    assert.equal(c.version, 3)
    assert.deepEqual(c.disabled_plugins, [])
    const images = c.plugins['io.containerd.cri.v1.images']
    assert.equal(images.pinned_images.sandbox, 'registry.k8s.io/pause:3.10.1')
    assert.equal(images.registry.config_path, '/etc/containerd/certs.d')
    const runtime = c.plugins['io.containerd.cri.v1.runtime'].containerd
    assert.equal(runtime.default_runtime_name, 'runc')
    assert.equal(runtime.runtimes.runc.runtime_type, 'io.containerd.runc.v2')
    assert.equal(runtime.runtimes.runc.options.SystemdCgroup, true)
    assert.equal('io.containerd.grpc.v1.cri' in c.plugins, false, 'layouts must not mix')
  })

  it('writes layout version 2 for containerd 1.x', () => {
    const c = parseToml(renderContainerdConfig({ ...common, major: 1 })) as any
    assert.equal(c.version, 2)
    assert.deepEqual(c.disabled_plugins, [])
    const cri = c.plugins['io.containerd.grpc.v1.cri']
    assert.equal(cri.sandbox_image, 'registry.k8s.io/pause:3.10.1')
    assert.equal(cri.registry.config_path, '/etc/containerd/certs.d')
    assert.equal(cri.containerd.runtimes.runc.options.SystemdCgroup, true)
    assert.equal('io.containerd.cri.v1.images' in c.plugins, false, 'layouts must not mix')
  })

  it('puts a private daemon in its own directories when asked', () => {
    const c = parseToml(renderContainerdConfig({ ...common, major: 2, root: '/t/root', state: '/t/state', address: '/t/sock' })) as any
    assert.equal(c.root, '/t/root')
    assert.equal(c.state, '/t/state')
    assert.equal(c.grpc.address, '/t/sock')
    const plain = parseToml(renderContainerdConfig({ ...common, major: 2 })) as any
    assert.equal('root' in plain || 'grpc' in plain, false)
  })

  it('writes hosts.toml with mirrors first and the registry as server', () => {
    const h = parseToml(renderHostsToml({ registry: 'docker.io', endpoints: ['https://mirror.gcr.io', 'https://b.example'] })) as any
    assert.equal(h.server, 'https://registry-1.docker.io')
    assert.deepEqual(Object.keys(h.host), ['https://mirror.gcr.io', 'https://b.example'])
    assert.deepEqual(h.host['https://mirror.gcr.io'].capabilities, ['pull', 'resolve'])
    const k = parseToml(renderHostsToml({ registry: 'registry.k8s.io', endpoints: ['https://k8s.m.daocloud.io'] })) as any
    assert.equal(k.server, 'https://registry.k8s.io')
  })

  it('makes a plain-HTTP endpoint on the registry itself the server', () => {
    const h = parseToml(renderHostsToml({ registry: '127.0.0.1:5000', endpoints: ['http://127.0.0.1:5000'] })) as any
    assert.equal(h.server, 'http://127.0.0.1:5000')
    assert.equal(h.host, undefined)
  })
})

describe('daemon.json', () => {
  it('merges mirrors into what the host has and keeps its other keys', () => {
    const existing = { 'exec-opts': ['native.cgroupdriver=cgroupfs'], 'cgroup-parent': '/actions_job', 'registry-mirrors': ['https://a.example'] }
    const out = JSON.parse(renderDaemonJson(existing, { dockerHubMirrors: ['https://mirror.gcr.io', 'https://a.example'] }))
    assert.equal(out['cgroup-parent'], '/actions_job')
    assert.deepEqual(out['exec-opts'], ['native.cgroupdriver=cgroupfs'])
    assert.deepEqual(out['registry-mirrors'], ['https://a.example', 'https://mirror.gcr.io'])
  })

  it('replaces the cgroup driver only when asked', () => {
    const out = JSON.parse(renderDaemonJson({ 'exec-opts': ['native.cgroupdriver=cgroupfs', 'x=y'] }, { dockerHubMirrors: [], cgroupDriver: 'systemd' }))
    assert.deepEqual(out['exec-opts'], ['x=y', 'native.cgroupdriver=systemd'])
    assert.deepEqual(JSON.parse(renderDaemonJson(undefined, { dockerHubMirrors: [] })), {})
  })
})

describe('flannel manifest', () => {
  const source = `---
kind: Namespace
apiVersion: v1
metadata:
  name: kube-flannel
---
kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
data:
  cni-conf.json: |
    {"name": "cbr0", "cniVersion": "0.3.1"}
  net-conf.json: |
    {
      "Network": "10.244.0.0/16",
      "EnableNFTables": false,
      "Backend": {
        "Type": "vxlan"
      }
    }
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
spec:
  template:
    spec:
      initContainers:
      - name: install-cni-plugin
        image: ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3
      - name: install-cni
        image: ghcr.io/flannel-io/flannel:v0.28.9
      containers:
      - name: kube-flannel
        image: ghcr.io/flannel-io/flannel:v0.28.9
`
  it('sets net-conf Network to the pod network and lists the images once each', () => {
    const r = renderFlannelManifest(source, '10.32.0.0/16')
    const out = docs(r.manifest)
    assert.equal(out.length, 3)
    const net = JSON.parse(out[1].data['net-conf.json'])
    assert.equal(net.Network, '10.32.0.0/16')
    assert.equal(net.Backend.Type, 'vxlan')
    assert.equal(net.EnableNFTables, false)
    assert.deepEqual(r.images, ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'ghcr.io/flannel-io/flannel:v0.28.9'])
    assert.equal(out[2].spec.template.spec.containers[0].image, 'ghcr.io/flannel-io/flannel:v0.28.9')
  })

  it('refuses a manifest that is not flannel', () => {
    assert.throws(() => renderFlannelManifest('kind: Namespace\napiVersion: v1\n', '10.244.0.0/16'), /no ConfigMap with net-conf\.json/)
    assert.throws(() => renderFlannelManifest('a: [1,\n', '10.244.0.0/16'), /not valid YAML/)
  })
})

describe('host files and units', () => {
  it('loads overlay and br_netfilter and sets the three sysctls', () => {
    assert.deepEqual(renderModulesLoad().trim().split('\n'), ['overlay', 'br_netfilter'])
    const sysctl = Object.fromEntries(renderSysctlConf().trim().split('\n').map((l) => l.split(' = ')))
    assert.deepEqual(sysctl, { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1' })
  })

  it('renders the kubelet unit and a drop-in that resets ExecStart', () => {
    const unit = kubeletUnit('/usr/local/bin/kubelet')
    assert.match(unit, /^\[Unit\]\n/)
    assert.match(unit, /\n\[Service\]\nExecStart=\/usr\/local\/bin\/kubelet\n/)
    assert.match(unit, /\n\[Install\]\nWantedBy=multi-user.target\n$/)
    assert.match(unit, /\nRestartSec=10\n/, 'restarts after 10 s, as the upstream unit does')
    const dropIn = kubeadmDropIn('/usr/local/bin/kubelet').split('\n')
    const execStarts = dropIn.filter((l) => l.startsWith('ExecStart='))
    assert.deepEqual(execStarts[0], 'ExecStart=')
    assert.match(execStarts[1], /^ExecStart=\/usr\/local\/bin\/kubelet \$KUBELET_KUBECONFIG_ARGS \$KUBELET_CONFIG_ARGS \$KUBELET_KUBEADM_ARGS \$KUBELET_EXTRA_ARGS$/)
    assert.ok(dropIn.includes('EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env'))
  })

  it('renders the smoke test as a Deployment and a NodePort Service on port 80', () => {
    const [dep, svc] = docs(renderSmokeManifest('smoke', 'default', 'docker.io/library/nginx:stable-alpine'))
    assert.equal(dep.kind, 'Deployment')
    assert.equal(dep.spec.template.spec.containers[0].image, 'docker.io/library/nginx:stable-alpine')
    assert.equal(dep.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent')
    assert.deepEqual(dep.spec.selector.matchLabels, svc.spec.selector)
    assert.equal(svc.spec.type, 'NodePort')
    assert.equal(svc.spec.ports[0].port, 80)
    assert.ok(parseYaml(renderSmokeManifest('a', 'b', 'c:1').split('---\n')[1]))
  })

  it('writes the labels out in full where they repeat, with no YAML anchor or alias', () => {
    const text = renderSmokeManifest('smoke', 'default', 'nginx:1')
    assert.doesNotMatch(text, /[&*]a\d/)
    assert.equal(text.match(/app: smoke/g)?.length, 5)
  })
})
