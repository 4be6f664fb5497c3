// Everything the machine reaches over HTTP, served inside it (its network is private): a
// release mirror laid out like dl.k8s.io and GitHub's release downloads, and a registry that
// holds small runnable images under the paths registry.k8s.io, docker.io and ghcr.io use.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { ensureBaseImage, waitHttp, type Machine } from './machine.js'
import { crictlVersion } from '../../src/config/kubernetes.js'
import { CRI_TOOLS_VERSION, crictlBinary } from './cri-tools.js'
import { FLANNEL_MANIFEST, K8S_VERSION, standins } from './standins.js'

const execFileP = promisify(execFile)
export const sha256hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

// ---------------------------------------------------------------------------------------
// The release mirror

export interface Mirror {
  /** http://127.0.0.1:PORT, reachable inside the machine only */
  url: string
  port: number
  /** where its files live inside the machine */
  dir: string
  /** puts a file under the mirror (path relative to its root, e.g. v1.34.2/bin/linux/amd64/kubeadm) */
  add(path: string, content: string | Buffer): Promise<void>
  /**
   * puts a file and its `.sha256` beside it: 'bare' holds the hex digest alone (as dl.k8s.io
   * publishes for Kubernetes binaries), 'sha256sum' holds `hex  filename` (GitHub releases).
   * Returns the digest.
   */
  addWithSha256(path: string, content: string | Buffer, style: 'bare' | 'sha256sum'): Promise<string>
  /** stops its server (the machine's shutdown stops it too) */
  close(): Promise<void>
}

/** Puts `files` under a directory in the machine and serves it with python3 -m http.server, as a transient unit. */
export async function serveMirror(m: Machine, files: Record<string, string | Buffer> = {}, opts: { port?: number } = {}): Promise<Mirror> {
  const port = opts.port ?? m.allocatePort()
  const dir = `/srv/ksn-mirror-${port}`
  const unit = `ksn-mirror-${port}`
  const add = async (path: string, content: string | Buffer): Promise<void> => {
    const full = join(m.procRoot, dir, path.replace(/^\/+/, ''))
    await mkdir(dirname(full), { recursive: true })
    await writeFile(full, content)
    await chmod(full, 0o644)
  }
  await mkdir(join(m.procRoot, dir), { recursive: true })
  for (const [p, c] of Object.entries(files)) await add(p, c)
  await m.run(['systemd-run', `--unit=${unit}`, '--quiet', '--property=Restart=on-failure', '/usr/bin/python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir])
  const url = `http://127.0.0.1:${port}`
  await waitHttp(m, `${url}/`)
  return {
    url,
    port,
    dir,
    add,
    addWithSha256: async (path, content, style) => {
      const hex = sha256hex(content)
      await add(path, content)
      await add(`${path}.sha256`, style === 'bare' ? hex : `${hex}  ${path.split('/').pop()}\n`)
      return hex
    },
    close: async () => {
      await m.exec(['systemctl', 'stop', unit])
    }
  }
}

async function tarGz(files: Record<string, { content: Buffer; mode: number }>, opts: { dotSlash: boolean }): Promise<Buffer> {
  const stage = await mkdtemp(join(tmpdir(), 'ksn-tar-'))
  try {
    const src = join(stage, 'src')
    await mkdir(src)
    for (const [name, f] of Object.entries(files)) {
      // a name with a folder in it (cri-dockerd/cri-dockerd): tar stores the folder as it finds it
      await mkdir(dirname(join(src, name)), { recursive: true })
      await writeFile(join(src, name), f.content)
      await chmod(join(src, name), f.mode)
    }
    const out = join(stage, 'out.tgz')
    const names = Object.keys(files).sort()
    await execFileP('tar', ['-czf', out, '--owner=root:0', '--group=root:0', '--sort=name', '-C', src, ...(opts.dotSlash ? ['.'] : names)])
    return await readFile(out)
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

/**
 * The machine's real CNI plugins (Debian's containernetworking-plugins in /usr/lib/cni) packed
 * as upstream packs cni-plugins-linux-amd64-v1.8.0.tgz: flat files at the root (./bridge, ...)
 * with README.md and LICENSE beside them. Debian ships v1.1.1 under that name.
 */
export async function packCniPlugins(m: Machine): Promise<Buffer> {
  const lib = join(m.root, 'usr/lib/cni')
  const files: Record<string, { content: Buffer; mode: number }> = {}
  for (const n of await readdir(lib)) files[n] = { content: await readFile(join(lib, n)), mode: 0o755 }
  files['README.md'] = { content: Buffer.from('Some CNI network plugins, maintained by the containernetworking team.\n\n(ksn system tests: Debian\'s containernetworking-plugins, packed as the upstream release.)\n'), mode: 0o644 }
  const copyright = await readFile(join(m.root, 'usr/share/doc/containernetworking-plugins/copyright')).catch(() => Buffer.from('Apache License, Version 2.0\n'))
  files['LICENSE'] = { content: copyright, mode: 0o644 }
  return tarGz(files, { dotSlash: true })
}

/**
 * A crictl release tarball (crictl-v1.36.0-linux-amd64.tar.gz) holding `crictl` at its root,
 * by default the real crictl (cri-tools.ts).
 */
/** A cri-dockerd release archive (cri-dockerd-V.amd64.tgz) holding `cri-dockerd/cri-dockerd`: the stand-in, as the release lays it out. */
export async function packCriDockerd(binary: Buffer): Promise<Buffer> {
  return tarGz({ 'cri-dockerd/cri-dockerd': { content: binary, mode: 0o755 } }, { dotSlash: false })
}

export async function packCrictl(crictl: string | Buffer = crictlBinary()): Promise<Buffer> {
  return tarGz({ crictl: { content: Buffer.from(crictl), mode: 0o755 } }, { dotSlash: false })
}

/**
 * The crictl a run of Kubernetes `version` downloads: v1.N.0 for 1.N (src/config/kubernetes.ts),
 * served as the real crictl. The only real one here is v1.36.0 (cri-tools.ts): for 1.36 it is
 * served under its own release name; for the other minors the tests run (1.28, 1.34) the same
 * v1.36.0 binary is served under v1.N.0's file name, with a .sha256 of those very bytes. That
 * is a newer crictl than a runner would get, but the real client: its flags, crictl.yaml and
 * output, against the real containerd, where a stand-in would only echo what we believed.
 * cri-tools' README: crictl speaks the CRI v1 API, which every runtime the action sets up serves.
 */
export function crictlTarballPath(version: string, crictl?: string): string {
  const v = crictl ?? crictlVersion(Number(version.split('.')[1]))
  return `github/kubernetes-sigs/cri-tools/releases/download/${v}/crictl-${v}-linux-amd64.tar.gz`
}
export { CRI_TOOLS_VERSION }
export const CNI_VERSION = 'v1.8.0'
export const FLANNEL_VERSION = 'v0.28.9'

export interface Release {
  mirror: Mirror
  /** the action's kubernetes-release-url input: <url>/v1.34.2/bin/linux/amd64/kubeadm */
  kubernetesReleaseUrl: string
  /** the action's github-url input: <url>/kubernetes-sigs/cri-tools/releases/download/... */
  githubUrl: string
  /** every path served, relative to the mirror, with the digest of those that have a .sha256 */
  files: Record<string, string>
}

/**
 * The downloads of a run, laid out as the action fetches them: kubeadm, kubelet, kubectl
 * (stand-ins) under the release URL with bare-hex .sha256 files; crictl (the real one, see
 * crictlTarballPath), the CNI plugins (real, Debian's) and the flannel manifest under GitHub's
 * release paths, the tarballs with `hex  filename` .sha256 files.
 */
export async function serveRelease(m: Machine, opts: { version?: string; crictl?: string } = {}): Promise<Release> {
  const version = opts.version ?? K8S_VERSION
  const mirror = await serveMirror(m)
  const s = await standins()
  const files: Record<string, string> = {}
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    const p = `k8s/release/${version}/bin/linux/amd64/${name}`
    files[p] = await mirror.addWithSha256(p, s[name], 'bare')
  }
  const crictlPath = crictlTarballPath(version, opts.crictl)
  files[crictlPath] = await mirror.addWithSha256(crictlPath, await packCrictl(), 'sha256sum')
  const cniPath = `github/containernetworking/plugins/releases/download/${CNI_VERSION}/cni-plugins-linux-amd64-${CNI_VERSION}.tgz`
  files[cniPath] = await mirror.addWithSha256(cniPath, await packCniPlugins(m), 'sha256sum')
  const flannelPath = `github/flannel-io/flannel/raw/${FLANNEL_VERSION}/Documentation/kube-flannel.yml`
  await mirror.add(flannelPath, await readFile(FLANNEL_MANIFEST))
  files[flannelPath] = ''
  return { mirror, kubernetesReleaseUrl: `${mirror.url}/k8s/release`, githubUrl: `${mirror.url}/github`, files }
}

// ---------------------------------------------------------------------------------------
// The registry

export interface Registry {
  /** 127.0.0.1:5000 */
  host: string
  url: string
}

/** Debian's docker-registry inside the machine, on 127.0.0.1:PORT (default 5000), as a transient unit. */
export async function startRegistry(m: Machine, opts: { port?: number } = {}): Promise<Registry> {
  const port = opts.port ?? 5000
  const config = `/opt/ksn/registry-${port}.yml`
  await m.writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/ksn-registry-${port}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`
  )
  await m.run(['systemd-run', `--unit=ksn-registry-${port}`, '--quiet', '--property=Restart=on-failure', '/usr/bin/docker-registry', 'serve', config])
  const host = `127.0.0.1:${port}`
  await waitHttp(m, `http://${host}/v2/`)
  return { host, url: `http://${host}` }
}

/**
 * Where an image lives in the mirror registry: its path without the registry host, as a
 * containerd hosts.toml mirror asks for it (registry.k8s.io/pause:3.10.1 -> pause:3.10.1,
 * docker.io/library/nginx:x and nginx:x -> library/nginx:x, ghcr.io/a/b:t -> a/b:t).
 */
export function mirrorPath(image: string): string {
  const [first, ...rest] = image.split('/')
  const hasHost = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost')
  const path = hasHost ? rest.join('/') : image
  const host = hasHost ? first : 'docker.io'
  if ((host === 'docker.io' || host === 'index.docker.io') && !path.includes('/')) return `library/${path}`
  return path
}

export interface PushOptions {
  /** the registry (default 127.0.0.1:5000) */
  registry?: string
  /** the port busybox httpd serves on (default 80); ignored when cmd is given */
  port?: number
  /** the image's command; pause images default to a long sleep (they run in host network namespaces) */
  cmd?: string[]
  /** keep the image in the machine's Docker after the push (default: removed, as a runner has none of these) */
  keepLocal?: boolean
}

/**
 * A tiny runnable image (static busybox; httpd serving /www/index.html, which holds the
 * image's name) built in the machine's Docker and pushed to the mirror registry under
 * mirrorPath(name). Returns the pushed reference and its manifest digest.
 */
export async function pushImage(m: Machine, name: string, opts: PushOptions = {}): Promise<{ ref: string; digest: string }> {
  const registry = opts.registry ?? '127.0.0.1:5000'
  const ref = `${registry}/${mirrorPath(name)}`
  await buildImage(m, name, ref, opts)
  const out = await m.run(['docker', 'push', ref])
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1] ?? ''
  if (!opts.keepLocal) await m.exec(['docker', 'rmi', ref])
  return { ref, digest }
}

/**
 * The same tiny runnable image, built in the machine's Docker and tagged `tag` (by default
 * `name` itself: for `docker save`, which keeps the name an archive brings).
 */
export async function buildImage(m: Machine, name: string, tag = name, opts: Pick<PushOptions, 'port' | 'cmd'> = {}): Promise<void> {
  const isPause = /\/pause(:|@|$)/.test(mirrorPath(name)) || mirrorPath(name).startsWith('pause')
  const cmd = opts.cmd ?? (isPause ? ['/bin/busybox', 'sleep', '2147483647'] : ['/bin/busybox', 'httpd', '-f', '-p', String(opts.port ?? 80), '-h', '/www'])
  await ensureBaseImage(m)
  const ctx = `/tmp/ksn-build-${sha256hex(name).slice(0, 12)}`
  await m.writeFile(`${ctx}/index.html`, `${name}\n`)
  await m.writeFile(`${ctx}/Dockerfile`, `FROM local/busybox:1\nCOPY index.html /www/index.html\nLABEL ksn.image=${JSON.stringify(name)}\nSTOPSIGNAL SIGKILL\nCMD ${JSON.stringify(cmd)}\n`)
  await m.run(['docker', 'build', '-q', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '0' } })
  await m.exec(['rm', '-rf', ctx])
}

/** Copies a host file into the machine (e.g. the action's dist/ bundle). */
export async function copyIn(m: Machine, hostPath: string, path: string, mode = 0o644): Promise<void> {
  const full = join(m.procRoot, path)
  await mkdir(dirname(full), { recursive: true })
  await copyFile(hostPath, full)
  await chmod(full, mode)
}
