import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cleanupCommands } from '../src/cleanup.js'
import { HINTS, hintsFor } from '../src/diagnostics.js'
import { HOST_PATHS } from '../src/paths.js'
import type { SavedState } from '../src/saved-state.js'

const saved: SavedState = {
  changedHost: true,
  started: ['host.swap', 'host.kernel', 'binaries.kubeadm', 'binaries.kubelet', 'binaries.kubelet-unit', 'runtime.containerd', 'init.kubeadm', 'init.kubeconfig', 'network.cni'],
  completed: ['host.swap', 'host.kernel', 'binaries.kubeadm', 'binaries.kubelet', 'binaries.kubelet-unit', 'runtime.containerd', 'init.kubeadm'],
  cleanup: true,
  paths: HOST_PATHS,
  kubeconfig: '/home/runner/.kube/config',
  swapWasOn: true,
  containerdConfigExisted: true,
  daemonJsonExisted: true,
  mirrors: ['docker.io']
}

describe('post step', () => {
  it('recognises each failure signature from runner-facts', () => {
    const samples: Array<[string, RegExp]> = [
      ['rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService', /CRI plugin is disabled/],
      ['E1125 kubelet.go: "command failed" err="failed to run Kubelet: running with swap on is not supported, please disable swap"', /Swap is on/],
      ['failed to get sandbox image "registry.k8s.io/pause:3.10": failed to pull', /sandbox \(pause\) image/],
      ['E1125 main.go:278] Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-iptables: no such file', /br_netfilter is not loaded/],
      ['plugin type="flannel" failed (add): failed to find plugin "flannel" in path [/opt/cni/bin]', /No CNI plugins/],
      ['toomanyrequests: You have reached your pull rate limit', /rate limit|anonymous pull limit/],
      ['kube-system coredns-7c65d6cfc9-abc 0/1 ImagePullBackOff', /coredns cannot be pulled/]
    ]
    for (const [text, hint] of samples) {
      const hints = hintsFor(text)
      assert.ok(hints.some((h) => hint.test(h)), `no hint for: ${text}`)
    }
    assert.deepEqual(hintsFor('everything is fine'), [])
    assert.ok(HINTS.length >= samples.length)
  })

  it('undoes the host changes, restoring the backed-up containerd config', () => {
    const cmds = cleanupCommands(saved).map((c) => c.join(' '))
    assert.match(cmds[0], /^\/usr\/local\/bin\/kubeadm reset --force --cri-socket unix:\/\/\/var\/run\/containerd\/containerd\.sock$/)
    assert.ok(cmds.includes('mv -f /etc/containerd/config.toml.kubeadm-single-node.bak /etc/containerd/config.toml'))
    assert.ok(cmds.includes('rm -rf /etc/containerd/certs.d/docker.io'))
    assert.ok(cmds.includes('systemctl restart containerd'))
    assert.equal(cmds.at(-1), 'swapon -a')
    assert.ok(cmds.indexOf('systemctl restart containerd') > cmds.findIndex((c) => c.startsWith('mv -f')))
  })

  it("removes a containerd config the action created, and skips reset when kubeadm never arrived", () => {
    const cmds = cleanupCommands({ ...saved, started: ['runtime.containerd'], completed: [], containerdConfigExisted: false, swapWasOn: false }).map((c) => c.join(' '))
    assert.ok(cmds.includes('rm -f /etc/containerd/config.toml'))
    assert.equal(cmds.some((c) => c.includes('kubeadm reset')), false)
    assert.equal(cmds.includes('swapon -a'), false)
  })

  it('undoes a step that failed half-way, and only what the action itself wrote', () => {
    // runtime.containerd began (config written) but never completed
    const half = cleanupCommands({ ...saved, started: ['runtime.containerd', 'runtime.docker-mirrors'], completed: [] }).map((c) => c.join(' '))
    assert.ok(half.includes('mv -f /etc/containerd/config.toml.kubeadm-single-node.bak /etc/containerd/config.toml'))
    assert.ok(half.includes('mv -f /etc/docker/daemon.json.kubeadm-single-node.bak /etc/docker/daemon.json'))
    assert.ok(half.includes('systemctl restart docker'))
    assert.equal(half.some((c) => c.includes('kubeadm reset') || c.includes('kubectl') || c.includes('/etc/cni')), false)
    const full = cleanupCommands(saved).map((c) => c.join(' '))
    assert.ok(full.includes('rm -rf /etc/cni/net.d/10-flannel.conflist /run/flannel'), 'flannel config only, never the whole of /etc/cni/net.d')
    assert.equal(full.some((c) => c === 'rm -rf /etc/cni/net.d' || / \/etc\/cni\/net\.d( |$)/.test(c)), false)
    assert.ok(full.includes('rm -f /home/runner/.kube/config'))
    assert.equal(cleanupCommands({ ...saved, started: ['host.kernel'] }).some((c) => c.includes('/home/runner/.kube/config')), false)
  })
})
