// A hosted runner laid out in a temporary tree: the files the action reads and writes, and
// the kernel's and systemd's state as files the shim keeps (see fixtures/shim.sh). Real
// install, cp and rm work on it; the Kubernetes binaries are stand-ins served by a loopback
// release server. A snapshot of the tree is what "the host as it was" means in the tests.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { chmod, copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { BPF_FS_DIR } from '../../src/cnis/calico/plugin.js'
import { onHost, pathsUnder, type Paths } from '../../src/host/paths.js'
import type { Route } from './http.js'

export const SHIMMED = [
  'sudo', 'containerd', 'kubeadm', 'kubectl', 'kubelet', 'ctr', 'crictl', 'journalctl', 'systemctl',
  'modprobe', 'sysctl', 'swapoff', 'swapon', 'apt-get', 'docker', 'ip', 'umount'
]

export async function shimDir(dir: string): Promise<string> {
  const shims = join(dir, 'shims')
  await mkdir(shims, { recursive: true })
  const shim = join(shims, '.shim.sh')
  await copyFile('__tests__/fixtures/shim.sh', shim)
  await chmod(shim, 0o755)
  for (const name of SHIMMED) await symlink(shim, join(shims, name))
  return shims
}

export interface TreeOptions {
  /** the runner user's own files where the action writes: they must come back byte for byte */
  userFiles?: boolean
}

/** What `containerd --version` says on the simulated host (the shim reads it). */
export const HOSTED_CONTAINERD = '2.2.1'

/** A hosted runner's state, under `root`. */
export async function layRunner(root: string, o: TreeOptions = {}): Promise<Paths> {
  const paths = pathsUnder(root)
  const put = async (path: string, body: string, mode = 0o644): Promise<void> => {
    await mkdir(join(path, '..'), { recursive: true })
    await writeFile(path, body, { mode })
    await chmod(path, mode)
  }
  await put(paths.procSwaps, 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/mnt/swapfile\tfile\t\t4194300\t0\t-2\n')
  await put(join(root, 'proc/sys/net/ipv4/ip_forward'), '0\n')
  await put(join(root, 'proc/sys/net/bridge/bridge-nf-call-iptables'), '0\n')
  await put(join(root, 'proc/sys/net/bridge/bridge-nf-call-ip6tables'), '0\n')
  // Docker's runtime: br_netfilter and overlay are loaded, containerd and docker run
  for (const m of ['overlay', 'br_netfilter']) await mkdir(join(paths.sysModuleDir, m), { recursive: true })
  await mkdir(join(paths.sysClassNet, 'eth0'), { recursive: true })
  // systemd mounts the BPF filesystem at boot on the runner images
  await mkdir(onHost(paths, BPF_FS_DIR), { recursive: true })
  await put(paths.procMounts, `sysfs ${join(root, 'sys')} sysfs rw,nosuid,nodev,noexec,relatime 0 0\nbpf ${onHost(paths, BPF_FS_DIR)} bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0\n`)
  const wants = join(paths.systemdDir, 'multi-user.target.wants')
  await mkdir(wants, { recursive: true })
  for (const unit of ['containerd', 'docker']) {
    await put(join(root, 'lib/systemd/system', `${unit}.service`), `[Service]\nExecStart=/usr/bin/${unit}d\n`)
    await symlink(`/lib/systemd/system/${unit}.service`, join(wants, `${unit}.service`))
    await put(join(root, 'run/units', `${unit}.active`), '')
  }
  await put(paths.containerdConfig, '# Docker\'s containerd.io default\ndisabled_plugins = ["cri"]\n')
  await put(paths.dockerDaemonJson, '{\n  "exec-opts": ["native.cgroupdriver=cgroupfs"],\n  "cgroup-parent": "/actions_job"\n}\n')
  await mkdir(paths.binDir, { recursive: true })
  // a runner has both (its tool cache is /opt/hostedtoolcache): the action makes only what is below them
  await mkdir(join(root, 'opt'), { recursive: true })
  await mkdir(join(root, 'usr/local/lib'), { recursive: true })
  await mkdir(join(root, 'var/lib'), { recursive: true })
  await mkdir(join(root, 'var/log'), { recursive: true })
  await mkdir(join(root, 'home/runner'), { recursive: true })
  if (o.userFiles) {
    await put(join(paths.binDir, 'kubectl'), '#!/bin/sh\necho "the user\'s own kubectl"\n', 0o750)
    await put(paths.crictlConfig, 'runtime-endpoint: unix:///run/other.sock\n', 0o640)
    await put(join(paths.cniBinDir, 'bridge'), 'an older bridge plugin', 0o700)
    await put(join(paths.certsDir, 'docker.io/hosts.toml'), 'server = "https://my.own.mirror"\n', 0o600)
    await put(join(root, 'home/runner/.kube/config'), 'the user\'s own kubeconfig\n', 0o600)
    await put(join(root, 'home/runner/.docker/config.json'), '{"auths":{"ghcr.io":{"auth":"dXNlcjpvd24="}}}\n', 0o644)
    await put(paths.modulesLoad, 'overlay\n', 0o644)
    await put(join(paths.systemdDir, 'kubelet.service'), '[Service]\nExecStart=/usr/bin/kubelet --old\n')
    // the user's earlier symlink: cleanup must bring back a link, not a copy
    await symlink('/usr/bin/true', join(paths.binDir, 'crictl'))
  }
  return paths
}

/** Every path under the tree: type, mode, owner and content (or link target). */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name)
      const st = await lstat(p)
      const key = relative(root, p)
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`
      if (st.isSymbolicLink()) out.set(key, `link -> ${await readlink(p)}`)
      else if (st.isDirectory()) {
        out.set(key, `dir ${meta}`)
        await walk(p)
      } else out.set(key, `file ${meta} ${createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16)}`)
    }
  }
  await walk(root)
  return out
}

/** The differences, one readable line each; empty when the two are the same. */
export function diffSnapshots(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = []
  for (const [k, v] of before) if (after.get(k) !== v) lines.push(after.has(k) ? `changed ${k}: ${v} -> ${after.get(k)}` : `missing ${k} (${v})`)
  for (const [k, v] of after) if (!before.has(k)) lines.push(`added ${k} (${v})`)
  return lines
}

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

async function tgz(dir: string, files: Record<string, { body: string; mode: number }>): Promise<Buffer> {
  const src = await mkdtemp(join(dir, 'tgz-'))
  for (const [name, f] of Object.entries(files)) {
    await mkdir(dirname(join(src, name)), { recursive: true })
    await writeFile(join(src, name), f.body, { mode: f.mode })
  }
  const out = join(dir, `${Math.random().toString(36).slice(2)}.tgz`)
  execFileSync('tar', ['-czf', out, '-C', src, ...Object.keys(files)])
  return readFile(out)
}

export const FLANNEL_MANIFEST = `kind: ConfigMap
apiVersion: v1
metadata: {name: kube-flannel-cfg, namespace: kube-flannel}
data:
  net-conf.json: |
    {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    spec:
      initContainers: [{name: install-cni-plugin, image: "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3"}]
      containers: [{name: kube-flannel, image: "ghcr.io/flannel-io/flannel:v0.28.9"}]
`

/** Calico's manifest at tag v3.32.1, trimmed (see its header): its images are tagged v3.32.1, not the pinned release's. */
export const CALICO_MANIFEST = readFileSync('__tests__/fixtures/calico.yaml', 'utf8')

/** What binary stand-in the release serves: a script that runs the shim under the binary's name. */
export const standIn = (name: string): string => `#!/usr/bin/env bash\n# stand-in for ${name}: the test's shim answers\nexec "$SHIM_DIR/${name}" "$@"\n`

/**
 * Routes of a release mirror (under /release) and a GitHub mirror (under /gh) for v1.34.2
 * (and v1.38.0, with crictl v1.37.0 only) on amd64, each file with its published checksum;
 * and nginx's page at /.
 */
export async function releaseRoutes(): Promise<Record<string, Route>> {
  const work = await mkdtemp(join(tmpdir(), 'ksn-release-'))
  const routes: Record<string, Route> = {}
  const file = (path: string, body: string | Buffer, bare = false): void => {
    routes[path] = { body }
    routes[`${path}.sha256`] = { body: bare ? `${sha(body)}\n` : `${sha(body)}  ${path.split('/').pop()}\n` }
  }
  for (const b of ['kubeadm', 'kubelet', 'kubectl']) file(`/release/v1.34.2/bin/linux/amd64/${b}`, standIn(b), true)
  // the same three in Kubernetes' node tarball, with kube-proxy beside them as published
  const nodeBins = Object.fromEntries(['kubeadm', 'kubelet', 'kubectl', 'kube-proxy'].map((b) => [`kubernetes/node/bin/${b}`, { body: standIn(b), mode: 0o755 }]))
  file('/release/v1.34.2/kubernetes-node-linux-amd64.tar.gz', await tgz(work, nodeBins))
  const crictl = await tgz(work, { crictl: { body: standIn('crictl'), mode: 0o755 } })
  file('/gh/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz', crictl)
  // a minor released after the action's table, on a day cri-tools has not published its crictl yet
  for (const b of ['kubeadm', 'kubelet', 'kubectl']) file(`/release/v1.38.0/bin/linux/amd64/${b}`, standIn(b), true)
  file('/gh/kubernetes-sigs/cri-tools/releases/download/v1.37.0/crictl-v1.37.0-linux-amd64.tar.gz', crictl)
  const plugin = (n: string): { body: string; mode: number } => ({ body: `plugin ${n}`, mode: 0o755 })
  file(
    '/gh/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz',
    await tgz(work, { bridge: plugin('bridge'), 'host-local': plugin('host-local'), loopback: plugin('loopback'), portmap: plugin('portmap'), 'README.md': { body: '# plugins', mode: 0o644 }, LICENSE: { body: 'Apache-2.0', mode: 0o644 } })
  )
  // containerd's release layout: bin/ at the archive root
  await mkdir(join(work, 'ctd/bin'), { recursive: true })
  for (const b of ['containerd', 'containerd-shim-runc-v2', 'ctr']) await writeFile(join(work, 'ctd/bin', b), standIn(b), { mode: 0o755 })
  execFileSync('tar', ['-czf', join(work, 'containerd.tgz'), '-C', join(work, 'ctd'), 'bin'])
  file('/gh/containerd/containerd/releases/download/v2.2.1/containerd-2.2.1-linux-amd64.tar.gz', await readFile(join(work, 'containerd.tgz')))
  routes['/gh/containerd/containerd/releases/download/v2.2.1/containerd-2.2.1-linux-amd64.tar.gz.sha256sum'] = routes['/gh/containerd/containerd/releases/download/v2.2.1/containerd-2.2.1-linux-amd64.tar.gz.sha256']
  routes['/gh/flannel-io/flannel/raw/v0.28.9/Documentation/kube-flannel.yml'] = { body: FLANNEL_MANIFEST }
  routes['/gh/projectcalico/calico/raw/v3.32.1/manifests/calico.yaml'] = { body: CALICO_MANIFEST }
  routes['/'] = { body: '<h1>Welcome to nginx!</h1>' }
  return routes
}
