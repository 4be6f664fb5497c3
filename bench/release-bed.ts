// What bench:fetch and bench:cache serve as the binaries' mirror: a loopback file server laid
// out like dl.k8s.io's and GitHub's release paths, answering ranges as their CDNs do, with
// stand-ins of assumed sizes cut from real Go binaries on this machine (see fetch.bench.ts).
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { dirname, join } from 'node:path'
import type { Config } from '../src/config/inputs.js'
import { parseInputs } from '../src/inputs/parse.js'
import { artifacts } from '../src/phases/artifacts.js'
import { renderHostsToml } from '../src/runtimes/containerd/config.js'
import { BINS } from '../__tests__/bed/env.js'
import { startRegistry } from '../__tests__/bed/registry.js'
import type { Bed } from './bed.js'
import { pushImageSet, type Pushed } from './image-set.js'
import { newLink, startShapingProxy, type ShapingOptions, type ShapingProxy } from './shaping-proxy.js'

const MB = 1e6
export const VERSION = 'v1.34.2'

/** assumed sizes in MB of the bare files: kubeadm, kubelet, kubectl, kube-proxy, and the CNI plugins' executables together */
export const DEFAULT_SIZES = '72,79,58,45,96'
export function parseSizes(raw: string): number[] {
  const sizes = raw.split(',').map(Number)
  if (sizes.length !== 5 || sizes.some((n) => !(n > 0))) throw new Error('--sizes: five sizes in MB: kubeadm,kubelet,kubectl,kube-proxy,cni-plugins')
  return sizes
}

/** Real Go binaries on this machine, read in turn: what the stand-ins are cut from. */
export function goPool(): Buffer {
  const candidates = [process.env.KSN_CRICTL, '/opt/ksn-cri-tools/crictl', '/opt/ksn-cri-tools/critest', BINS.containerd2, BINS.ctr2, '/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/dockerd', '/usr/bin/docker', '/usr/sbin/runc', '/usr/bin/runc', '/usr/bin/skopeo', '/usr/bin/docker-registry']
  const files = [...new Set(candidates.filter((p): p is string => !!p && existsSync(p) && statSync(p).size > 4 * MB))]
  if (files.length === 0) throw new Error('no Go binary on this machine to cut stand-ins from (containerd, dockerd, crictl...)')
  return Buffer.concat(files.map((f) => execFileSync('cat', [f], { maxBuffer: 512 * MB })))
}

/** `bytes` of Go binary, starting `seed` bytes into the pool (so that no two files are alike) */
export function standIn(pool: Buffer, bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes)
  for (let at = 0, from = seed % pool.length; at < bytes; ) {
    const n = Math.min(bytes - at, pool.length - from)
    pool.copy(out, at, from, from + n)
    at += n
    from = 0
  }
  return out
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** what the file server serves, each with its kind for the bytes-by-kind lines */
export interface Served {
  path: string
  file: string
  kind: string
}

export async function releaseTree(root: string, SIZES: readonly number[]): Promise<Served[]> {
  const pool = goPool()
  const served: Served[] = []
  const put = async (urlPath: string, body: Buffer, kind: string): Promise<void> => {
    const file = join(root, urlPath)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, body)
    await writeFile(`${file}.sha256`, `${sha256(body)}  ${urlPath.split('/').pop()}\n`)
    served.push({ path: urlPath, file, kind })
  }
  const tgz = async (name: string, members: Record<string, Buffer>): Promise<Buffer> => {
    const src = join(root, '.build', name)
    for (const [m, body] of Object.entries(members)) {
      await mkdir(dirname(join(src, m)), { recursive: true })
      await writeFile(join(src, m), body)
      await chmod(join(src, m), 0o755)
    }
    const out = join(root, '.build', `${name}.tar.gz`)
    execFileSync('tar', ['-czf', out, '-C', src, ...Object.keys(members)])
    return readFile(out)
  }
  const [kubeadm, kubelet, kubectl, kubeProxy, cni] = SIZES.map((s, i) => standIn(pool, Math.round(s * MB), i * 7_919_993))
  const kube = { kubeadm, kubelet, kubectl }
  for (const [name, body] of Object.entries(kube)) await put(`/release/${VERSION}/bin/linux/amd64/${name}`, body, `${name} (bare)`)
  const node = await tgz('node', { ...Object.fromEntries(Object.entries(kube).map(([n, b]) => [`kubernetes/node/bin/${n}`, b])), 'kubernetes/node/bin/kube-proxy': kubeProxy })
  await put(`/release/${VERSION}/kubernetes-node-linux-amd64.tar.gz`, node, 'node tarball')
  const crictlBin = existsSync('/opt/ksn-cri-tools/crictl') ? await readFile('/opt/ksn-cri-tools/crictl') : standIn(pool, 28 * MB, 3)
  await put('/gh/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz', await tgz('crictl', { crictl: crictlBin }), 'crictl')
  const plugins = ['bandwidth', 'bridge', 'dhcp', 'dummy', 'firewall', 'host-device', 'host-local', 'ipvlan', 'loopback', 'macvlan', 'portmap', 'ptp', 'sbr', 'static', 'tap', 'tuning', 'vlan', 'vrf', 'vlan2', 'vrf2']
  const each = Math.floor(cni.length / plugins.length)
  await put(
    '/gh/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz',
    await tgz('cni', Object.fromEntries(plugins.map((p, i) => [p, cni.subarray(i * each, (i + 1) * each)]))),
    'CNI plugins'
  )
  await rm(join(root, '.build'), { recursive: true, force: true })
  return served
}

/** a static file server on loopback, with ranges, that counts the bytes it sends per kind */
export async function fileServer(root: string, served: Served[]): Promise<{ host: string; server: Server; take(): Map<string, number> }> {
  const kinds = new Map(served.flatMap((s) => [[s.path, s.kind], [`${s.path}.sha256`, 'checksum files']]))
  let counts = new Map<string, number>()
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    const kind = kinds.get(path)
    if (!kind) {
      res.writeHead(404).end()
      return
    }
    const file = join(root, path)
    const size = (await stat(file)).size
    // ranges as a CDN answers them (dl.k8s.io's and GitHub's both do)
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const from = m ? Number(m[1]) : 0
    const to = m && m[2] !== '' ? Math.min(Number(m[2]), size - 1) : size - 1
    res.writeHead(m ? 206 : 200, { 'content-length': to - from + 1, 'content-type': 'application/octet-stream', ...(m ? { 'content-range': `bytes ${from}-${to}/${size}` } : {}) })
    counts.set(kind, (counts.get(kind) ?? 0) + to - from + 1)
    createReadStream(file, { start: from, end: to }).pipe(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return {
    host: `127.0.0.1:${port}`,
    server,
    take() {
      const c = counts
      counts = new Map()
      return c
    }
  }
}


export interface ShapedMirrors {
  pushed: Pushed[]
  images: string[]
  served: Served[]
  files: Awaited<ReturnType<typeof fileServer>>
  /** the registry's and the file server's fronts, sharing one link */
  imageFront: ShapingProxy
  fileFront: ShapingProxy
  /** hosts.toml files sending every registry the set names to the registry's front */
  certs: string
  /** the action's inputs, parsed as a run's, with the release mirror at the file server's front */
  config: Config
  arts: ReturnType<typeof artifacts>
}

/**
 * The image set in a loopback registry and the binaries on a loopback file server, each behind
 * a shaping front, both fronts on one link: what a default run fetches, where it fetches it.
 */
export async function startShapedMirrors(bed: Bed, dir: string, o: { shaping: ShapingOptions; sizes: readonly number[]; scale: number }): Promise<ShapedMirrors> {
  const registry = await startRegistry(dir)
  bed.daemons.add(registry.daemon)
  const pushed = await pushImageSet(dir, registry.host, o.scale)
  const served = await releaseTree(join(dir, 'www'), o.sizes)
  const files = await fileServer(join(dir, 'www'), served)
  bed.undo.push(() => new Promise<void>((r) => files.server.close(() => r())))
  const link = newLink(o.shaping)
  const imageFront = await startShapingProxy(registry.host, o.shaping, link)
  const fileFront = await startShapingProxy(files.host, o.shaping, link)
  bed.undo.push(() => imageFront.close(), () => fileFront.close())
  const certs = join(dir, 'certs')
  for (const r of new Set(pushed.map((p) => p.name.split('/')[0]))) {
    await mkdir(join(certs, r), { recursive: true })
    await writeFile(join(certs, r, 'hosts.toml'), renderHostsToml({ registry: r, endpoints: [`http://${imageFront.host}`] }))
  }
  const config = parseInputs((name) => ({ 'kubernetes-version': VERSION, 'kubernetes-release-url': `http://${fileFront.host}/release`, 'github-url': `http://${fileFront.host}/gh` })[name] ?? '')
  return { pushed, images: pushed.map((p) => p.name), served, files, imageFront, fileFront, certs, config, arts: artifacts(config, VERSION, 'amd64') }
}
