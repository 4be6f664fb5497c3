// What the post step shows after a failure: the logs and cluster state that explain most
// failures, and a plain hint for the failures it recognises (runner-facts.md's table).
import { join } from 'node:path'
import type { Run } from './host/exec.js'
import type { Paths } from './paths.js'

export const HINTS: ReadonlyArray<{ pattern: RegExp; hint: string }> = [
  { pattern: /unknown service runtime\.v1\.RuntimeService/, hint: "containerd's CRI plugin is disabled (disabled_plugins = [\"cri\"]): the action writes a config with CRI on; check that nothing rewrote /etc/containerd/config.toml." },
  { pattern: /running with swap on is not supported/, hint: 'Swap is on: the kubelet refuses it. Run `sudo swapoff -a` (the action does) and check that nothing turned it back on.' },
  { pattern: /failed to get sandbox image|pinned_images|sandbox image/i, hint: "The sandbox (pause) image is not the one kubeadm uses, or the mirror lacks it: image-repository's pause must match containerd's sandbox image." },
  { pattern: /Failed to check br_netfilter/, hint: 'br_netfilter is not loaded: `sudo modprobe br_netfilter` (flannel crash-loops without it).' },
  { pattern: /failed to find plugin/, hint: 'No CNI plugins in /opt/cni/bin: the CNI plugins download or extraction failed.' },
  { pattern: /toomanyrequests|429 Too Many Requests/i, hint: "Docker Hub's anonymous pull limit: set registry-mirrors (docker.io=https://mirror.gcr.io) or another smoke-test-image." },
  { pattern: /coredns.*(ImagePullBackOff|ErrImagePull|not found)/, hint: 'coredns cannot be pulled: with a custom image-repository kubeadm asks for REPO/coredns:TAG (flat); a pure mirror of registry.k8s.io keeps coredns/coredns. Use registry-mirrors for such a mirror instead.' },
  { pattern: /cgroup driver|misconfiguration: kubelet cgroup driver/i, hint: 'Cgroup driver mismatch: containerd must run runc with SystemdCgroup = true, as the kubelet uses systemd.' }
]

export function hintsFor(text: string): string[] {
  return HINTS.filter((h) => h.pattern.test(text)).map((h) => h.hint)
}

export interface Diagnostic {
  title: string
  output: string
}

export async function collectDiagnostics(run: Run, paths: Paths, kubeconfig: string): Promise<Diagnostic[]> {
  const kubectl = join(paths.binDir, 'kubectl')
  const env = { KUBECONFIG: kubeconfig }
  const probes: Array<[string, string[], boolean, Record<string, string>?]> = [
    ['kubelet journal (last 80 lines)', ['journalctl', '-u', 'kubelet', '-n', '80', '--no-pager', '-o', 'cat'], true],
    ['containerd journal (last 80 lines)', ['journalctl', '-u', 'containerd', '-n', '80', '--no-pager', '-o', 'cat'], true],
    ['pods in all namespaces', [kubectl, 'get', 'pods', '-A', '-o', 'wide'], false, env],
    ['events', [kubectl, 'get', 'events', '-A', '--sort-by=.lastTimestamp'], false, env],
    ['node', [kubectl, 'describe', 'nodes'], false, env],
    ['containers (crictl ps -a)', [join(paths.binDir, 'crictl'), 'ps', '-a'], true]
  ]
  return Promise.all(
    probes.map(async ([title, argv, privileged, e]) => {
      try {
        const r = await run(argv, { privileged, env: e, allowFailure: true })
        return { title, output: (r.stdout + r.stderr).trim() || `(exit ${r.exitCode}, no output)` }
      } catch (err) {
        return { title, output: `(could not run: ${(err as Error).message})` }
      }
    })
  )
}
