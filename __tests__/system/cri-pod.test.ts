// What the booted machine allows a CRI runtime: containerd 1.6 (bookworm) with the CRI on and
// SystemdCgroup = true, pods run the way the kubelet runs them (RunPodSandbox, CreateContainer,
// StartContainer over gRPC), images pulled through a hosts.toml mirror from the registry
// inside the machine. Records which settings this machine needs (see machine.ts, top).
import assert from 'node:assert/strict'
import { after, before, describe, it as test } from 'node:test'
import { CONFLIST_NAME, LOOPBACK_NAME, renderBridgeConflist, renderLoopbackConf } from '../../src/cnis/bridge/conflist.js'
import { criClient, criContainerdConfig, installRuncWithoutLimits, mirrorRegistries, type Cri } from './cri.js'
import { crictlMissing } from './cri-tools.js'
import { KUBEADM_IMAGES, bootMachine, installCrictl, installStandins, pushImage, startRegistry, systemAvailable, type Machine } from './machine.js'

const skip = systemAvailable()
if (skip) console.log(`# SKIP booted machine (CRI pods): ${skip}`)

const NGINX = 'docker.io/library/nginx:stable-alpine'

// every test is skipped (and counted so) when the machine cannot be booted here
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)
const withCrictl = (name: string, fn: () => Promise<void>): void => void test(name, { skip: skip ?? crictlMissing() }, fn)

describe('CRI pods in the booted machine (containerd 1.6, SystemdCgroup = true)', () => {
  let m: Machine
  let cri: Cri
  const started = Date.now()

  const useConfig = async (config: string): Promise<void> => {
    await m.writeFile('/etc/containerd/config.toml', config)
    await m.run(['systemctl', 'restart', 'containerd'])
    const deadline = Date.now() + 20_000
    for (;;) {
      try {
        await cri.runtime('Version', { version: 'v1' }, 2000)
        return
      } catch (e) {
        if (Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }
  const sandbox = (name: string, hostNetwork: boolean): Record<string, unknown> => ({
    metadata: { name, uid: `uid-${name}`, namespace: 'default' },
    logDirectory: `/var/log/pods/default_${name}_uid-${name}`,
    // a host-network sandbox must come without a hostname
    ...(hostNetwork ? {} : { hostname: name }),
    linux: { cgroupParent: `kubepods-besteffort-poduid_${name}.slice`, securityContext: { namespaceOptions: { network: hostNetwork ? 2 : 0, pid: 1 } } }
  })
  /** Runs a pod with one busybox httpd container; returns the address it serves on. */
  const runPod = async (name: string, hostNetwork: boolean, port: number, resources?: object): Promise<{ podId: string; url: string }> => {
    const config = sandbox(name, hostNetwork)
    const podId = (await cri.runtime('RunPodSandbox', { config }, 60_000)).podSandboxId
    const status = await cri.runtime('PodSandboxStatus', { podSandboxId: podId })
    const containerId = (
      await cri.runtime(
        'CreateContainer',
        {
          podSandboxId: podId,
          sandboxConfig: config,
          config: {
            metadata: { name },
            image: { image: NGINX },
            command: ['/bin/busybox', 'httpd', '-f', '-p', String(port), '-h', '/www'],
            logPath: `${name}/0.log`,
            linux: { resources, securityContext: { namespaceOptions: { network: hostNetwork ? 2 : 0, pid: 1 } } }
          }
        },
        60_000
      )
    ).containerId
    await cri.runtime('StartContainer', { containerId }, 60_000)
    return { podId, url: `http://${hostNetwork ? '127.0.0.1' : status.status.network.ip}:${port}/` }
  }
  const removePod = async (podId: string): Promise<void> => {
    await cri.runtime('StopPodSandbox', { podSandboxId: podId }, 60_000)
    await cri.runtime('RemovePodSandbox', { podSandboxId: podId }, 60_000)
  }
  const sandboxError = async (): Promise<string> => {
    try {
      const { podId } = await runPod('probe', true, 8090)
      await removePod(podId)
      return ''
    } catch (e) {
      return (e as Error).message
    }
  }

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'cri', serviceContainer: false, log: (l) => console.log(l) })
      await startRegistry(m)
      for (const image of [NGINX, ...KUBEADM_IMAGES]) await pushImage(m, image)
      await mirrorRegistries(m)
      await installRuncWithoutLimits(m)
      await m.sh('mkdir -p /opt/cni/bin /etc/cni/net.d && cp /usr/lib/cni/* /opt/cni/bin/')
      // the pod network is what `cni: bridge` writes (src/cnis/bridge/), for a /24 of the default pod CIDR
      await m.writeFile(`/etc/cni/net.d/${CONFLIST_NAME}`, renderBridgeConflist('10.244.0.0/24'))
      await m.writeFile(`/etc/cni/net.d/${LOOPBACK_NAME}`, renderLoopbackConf())
      cri = criClient(m)
      console.log(`ready in ${Date.now() - started} ms: ${JSON.stringify(m.timings)}`)
    },
    { timeout: 600_000 }
  )
  after(async () => {
    cri?.close()
    await m?.shutdown()
    console.log(`whole file ${Date.now() - started} ms`)
  })

  it("answers no CRI call while containerd has Docker's stock config", async () => {
    await assert.rejects(cri.runtime('Version', { version: 'v1' }), /UNIMPLEMENTED: unknown service runtime.v1.RuntimeService/)
  })

  it('fails a pod sandbox without the two workarounds, and says why', async () => {
    // oom_score_adj: containerd gives the pause container -998; lowering it needs
    // CAP_SYS_RESOURCE, which this host withholds even from its root
    await useConfig(criContainerdConfig({ restrictOomScoreAdj: false }))
    const oom = await sandboxError()
    console.log(`without restrict_oom_score_adj: ${oom || 'the sandbox ran'}`)
    if (oom) assert.match(oom, /can't get final child's PID from pipe: EOF|oom_score_adj/)
    // cpu: containerd 1.6 gives the pause container CPU shares 2, and the machine's cgroup2
    // has no cpu controller
    await useConfig(criContainerdConfig({ restrictOomScoreAdj: true }))
    const cpu = await sandboxError()
    console.log(`without the runc wrapper: ${cpu || 'the sandbox ran'}`)
    if (cpu) assert.match(cpu, /cpu\.weight: no such file or directory/)
  })

  it("runs a host-network pod and a pod-network pod (an address from cni: bridge's network) with restrict_oom_score_adj and the runc wrapper", async () => {
    await useConfig(criContainerdConfig({ restrictOomScoreAdj: true, binaryName: '/usr/local/sbin/runc-without-limits' }))
    const status = await cri.runtime('Status', {})
    assert.deepEqual(
      status.status.conditions.map((c: { type: string; status: boolean }) => [c.type, c.status]),
      [
        ['RuntimeReady', true],
        ['NetworkReady', true]
      ]
    )
    const pulled = await cri.image('PullImage', { image: { image: NGINX } }, 60_000)
    assert.match(pulled.imageRef, /^sha256:/)

    const host = await runPod('web-host', true, 8081)
    // a pod-network pod asking for CPU and memory, as the control plane's static pods do
    const pod = await runPod('web-pod', false, 80, { cpuShares: 256, memoryLimitInBytes: 64 << 20 })
    try {
      assert.equal((await m.run(['curl', '-fsS', '--retry', '10', '--retry-connrefused', '--retry-delay', '1', host.url])).trim(), NGINX)
      assert.match(pod.url, /^http:\/\/10\.244\.0\.\d+:80\/$/)
      assert.equal((await m.run(['curl', '-fsS', '--retry', '10', '--retry-connrefused', '--retry-delay', '1', pod.url])).trim(), NGINX)
      // the bridge is the pods' gateway (isGateway): it holds the range's first address
      assert.match(await m.run(['ip', '-4', 'addr', 'show', 'dev', 'cni0']), /inet 10\.244\.0\.1\/24 /)
    } finally {
      await removePod(host.podId)
      await removePod(pod.podId)
    }
  })

  withCrictl('lets the kubeadm stand-in get past preflight (images pulled through the mirror) to wait-control-plane', async () => {
    await installStandins(m)
    await installCrictl(m)
    await m.writeFile('/tmp/kubeadm.yaml', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.34.2\n')
    await m.run(['swapoff', '-a'])
    await m.run(['sysctl', '-w', 'net.ipv4.ip_forward=1'])
    const init = await m.exec(['kubeadm', 'init', '--config', '/tmp/kubeadm.yaml'], { env: { KSN_KUBELET_CHECK_SECONDS: '1' } })
    assert.equal(init.code, 1, init.stdout + init.stderr)
    assert.doesNotMatch(init.stderr, /\[ERROR/)
    assert.match(init.stdout, /^\[kubelet-check\] The kubelet is not healthy after /m)
    assert.match(init.stderr, /^error: error execution phase wait-control-plane: failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http:\/\/127.0.0.1:10248\/healthz' returned error: Get "http:\/\/127.0.0.1:10248\/healthz": dial tcp 127.0.0.1:10248: connect: connection refused$/m)
    const images = await m.run(['crictl', '--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'images'])
    for (const i of KUBEADM_IMAGES) assert.match(images, new RegExp(`^${i.slice(0, i.lastIndexOf(':')).replace(/\./g, '\\.')}\\s+${i.slice(i.lastIndexOf(':') + 1).replace(/\./g, '\\.')}\\s`, 'm'), i)
    assert.ok((await m.readFile('/etc/kubernetes/manifests/kube-apiserver.yaml')).includes('image: registry.k8s.io/kube-apiserver:v1.34.2'))
    assert.equal((await m.exec(['kubeadm', 'reset', '-f'])).code, 0)
    assert.equal((await m.exec(['test', '-e', '/etc/kubernetes/admin.conf'])).code, 1)
  })
})
