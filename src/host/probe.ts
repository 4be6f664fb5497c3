// Read-only facts about the host, gathered before planning (and by the dry run): nothing
// here changes the machine.
import { access, readFile } from 'node:fs/promises'
import { availableParallelism, userInfo } from 'node:os'
import { delimiter, join } from 'node:path'
import { HOST_PACKAGES } from '../config/kubernetes.js'
import { isRoot, type Run } from './exec.js'
import type { Paths } from './paths.js'

export type Arch = 'amd64' | 'arm64'

export interface HostFacts {
  arch: Arch
  /** how the action can act as root: it is root, or `sudo -n true` works, or neither */
  privilege: 'root' | 'sudo' | 'none'
  user: { name: string; uid: number; gid: number; home: string }
  containerd?: { version: string; major: number }
  docker: boolean
  /** the running Docker engine, where `docker info` answers: its version, cgroup driver and who may ask it */
  dockerEngine?: DockerEngine
  /** why a docker on PATH did not answer, where it did not */
  dockerProblem?: string
  /** of the packages some minor needs (config/kubernetes.ts, HOST_PACKAGES), those whose command is not on PATH */
  missingPackages: string[]
  /** the node's IPv4 addresses and default route (`ip -j`), where `ip` answered */
  network?: HostNetwork
  swapOn: boolean
  /** /etc/kubernetes/admin.conf exists: a cluster from an earlier run is still here */
  existingCluster: boolean
  /** /etc/docker/daemon.json exists (parsed into daemonJson when it is valid JSON) */
  daemonJsonExists: boolean
  daemonJson?: Record<string, unknown>
  /** DOCKER_CONFIG, where the runner user's Docker client reads its config.json instead of ~/.docker */
  dockerConfigDir?: string
  /** ~/.kube/config exists: the runner user's own, never overwritten */
  kubeconfigExists: boolean
  cpus: number
  selfHosted: boolean
}

export interface DockerEngine {
  version: string
  major: number
  /** systemd or cgroupfs */
  cgroupDriver: string
  /** who the daemon answered: the user (the docker group, a rootless Docker), or only root through sudo */
  via: 'user' | 'root'
}

export interface HostNetwork {
  /** every IPv4 address of every interface, loopback included (the check decides what counts) */
  addresses: Array<{ ifname: string; address: string; prefixlen: number }>
  /** the IPv4 default route: its interface, and its gateway where it has one */
  defaultRoute?: { dev: string; gateway?: string }
  /**
   * the main table's other IPv4 routes that an administrator or a program added (a VPN's, a
   * cloud agent's): not the kernel's own for an interface's network, which `addresses` gives
   */
  routes?: HostRoute[]
}

export interface HostRoute {
  /** a CIDR (a host route as /32) */
  dst: string
  dev?: string
  gateway?: string
}

/** Read as the user: both answer without privilege. IPv4 only, like the CIDR inputs. */
export const ipAddrArgv = ['ip', '-j', '-4', 'addr', 'show']
export const ipRouteArgv = ['ip', '-j', '-4', 'route', 'show']

/** `ip -j addr show` (iproute2's JSON): each interface's `ifname` and `addr_info` entries. */
export function parseIpAddr(json: string): HostNetwork['addresses'] {
  const links = JSON.parse(json) as Array<{ ifname?: string; addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }> }>
  return links.flatMap((l) =>
    (l.addr_info ?? []).flatMap((a) => (a.family === 'inet' && l.ifname && a.local && typeof a.prefixlen === 'number' ? [{ ifname: l.ifname, address: a.local, prefixlen: a.prefixlen }] : []))
  )
}

/** `ip -j -4 route show`: the first default route (the kernel's choice at the lowest metric). */
export function parseDefaultRoute(json: string): HostNetwork['defaultRoute'] {
  const routes = JSON.parse(json) as Array<{ dst?: string; dev?: string; gateway?: string; metric?: number }>
  const r = routes.filter((x) => x.dst === 'default' && x.dev).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]
  return r ? { dev: r.dev!, ...(r.gateway ? { gateway: r.gateway } : {}) } : undefined
}

/** `ip -j -4 route show`: every route but the default ones and the kernel's own (proto kernel). */
export function parseRoutes(json: string): HostRoute[] {
  const routes = JSON.parse(json) as Array<{ dst?: string; dev?: string; gateway?: string; protocol?: string }>
  return routes.flatMap((r) =>
    r.dst && r.dst !== 'default' && r.protocol !== 'kernel' && /^[\d.]+(\/\d+)?$/.test(r.dst)
      ? [{ dst: r.dst.includes('/') ? r.dst : `${r.dst}/32`, ...(r.dev ? { dev: r.dev } : {}), ...(r.gateway ? { gateway: r.gateway } : {}) }]
      : []
  )
}

/** Undefined where `ip` is missing or says something else than JSON: the subnet check then has nothing to hold the inputs to. */
async function hostNetwork(run: Run): Promise<HostNetwork | undefined> {
  const ask = (argv: string[]) => run(argv, { allowFailure: true }).catch(() => undefined)
  const [addr, route] = await Promise.all([ask(ipAddrArgv), ask(ipRouteArgv)])
  if (addr?.exitCode !== 0) return undefined
  try {
    const defaultRoute = route?.exitCode === 0 ? parseDefaultRoute(route.stdout) : undefined
    const routes = route?.exitCode === 0 ? parseRoutes(route.stdout) : []
    return { addresses: parseIpAddr(addr.stdout), ...(defaultRoute ? { defaultRoute } : {}), ...(routes.length ? { routes } : {}) }
  } catch {
    return undefined
  }
}

/** What the probe asks Docker, shown by the dry run where the answer decides a step. */
export const dockerInfoArgv = ['docker', 'info', '--format', '{{.ServerVersion}} {{.CgroupDriver}}']

/** `docker info --format '{{.ServerVersion}} {{.CgroupDriver}}'`, e.g. "28.0.4 systemd". */
export function parseDockerInfo(out: string, via: DockerEngine['via'] = 'user'): DockerEngine | undefined {
  const m = /^(\d+)\.\d+\.\d+\S*\s+(\S+)\s*$/.exec(out.trim())
  return m ? { version: out.trim().split(/\s+/)[0], major: Number(m[1]), cgroupDriver: m[2], via } : undefined
}

/**
 * The one probe of Docker, read by everything that needs it (the Docker runtime, load-images,
 * the workflow's own mirrors and credentials). Asked as the user first: images a step built
 * are in the user's daemon (a rootless Docker's only there); through sudo where only root may
 * use the socket.
 */
export async function probeDocker(run: Run, canSudo: boolean): Promise<Pick<HostFacts, 'dockerEngine' | 'dockerProblem'>> {
  const ask = (privileged: boolean) => run(dockerInfoArgv, { privileged, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
  const asUser = await ask(false)
  const mine = asUser.exitCode === 0 ? parseDockerInfo(asUser.stdout, 'user') : undefined
  if (mine) return { dockerEngine: mine }
  const said = (asUser.stderr || asUser.stdout).trim().split('\n').slice(-2).join(' ')
  if (canSudo && /permission denied/i.test(said)) {
    const asRoot = await ask(true)
    const roots = asRoot.exitCode === 0 ? parseDockerInfo(asRoot.stdout, 'root') : undefined
    if (roots) return { dockerEngine: roots }
  }
  return { dockerProblem: asUser.exitCode === 0 ? `\`docker info\` printed ${JSON.stringify(said)}, not a version and a cgroup driver` : `\`docker info\` failed: ${said || `exit ${asUser.exitCode}`}` }
}

export function kubeArch(nodeArch: string): Arch {
  if (nodeArch === 'x64') return 'amd64'
  if (nodeArch === 'arm64') return 'arm64'
  throw new Error(`This runner's architecture (${nodeArch}) has no Kubernetes release binaries here; use an x64 or arm64 runner.`)
}

/** `containerd --version` prints e.g. "containerd containerd.io 2.2.1 abc..." or "... v1.6.20 ...". */
export function parseContainerdVersion(out: string): { version: string; major: number } | undefined {
  const m = /\bv?(\d+)\.(\d+)\.(\d+)/.exec(out)
  return m ? { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]) } : undefined
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false
  )
}

async function onPath(bin: string): Promise<boolean> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin']
  for (const d of dirs) if (d && (await exists(join(d, bin)))) return true
  return false
}

async function privilege(run: Run): Promise<HostFacts['privilege']> {
  if (isRoot()) return 'root'
  const r = await run(['sudo', '-n', 'true'], { allowFailure: true }).catch(() => undefined)
  return r?.exitCode === 0 ? 'sudo' : 'none'
}

export async function probeHost(run: Run, paths: Paths): Promise<HostFacts> {
  const u = userInfo()
  const home = process.env.HOME || u.homedir
  const networkAsked = hostNetwork(run)
  const [priv, containerdOut, docker, missing, swaps, existingCluster, daemonJsonExists, daemonJson, kubeconfigExists] = await Promise.all([
    privilege(run),
    run(['containerd', '--version'], { allowFailure: true }).catch(() => undefined),
    onPath('docker'),
    Promise.all(HOST_PACKAGES.map(async (p) => ((await onPath(p.command)) ? undefined : p.pkg))),
    readFile(paths.procSwaps, 'utf8').catch(() => ''),
    exists(paths.adminConf),
    exists(paths.dockerDaemonJson),
    readFile(paths.dockerDaemonJson, 'utf8').then(
      (t) => JSON.parse(t) as Record<string, unknown>,
      () => undefined
    ),
    exists(join(home, '.kube', 'config'))
  ])
  const [dockerFacts, network] = await Promise.all([docker ? probeDocker(run, priv !== 'none') : {}, networkAsked])
  return {
    arch: kubeArch(process.arch),
    privilege: priv,
    // HOME first: it is where the runner user's later steps look for ~/.kube
    user: { name: u.username, uid: u.uid, gid: u.gid, home },
    containerd: containerdOut && containerdOut.exitCode === 0 ? parseContainerdVersion(containerdOut.stdout) : undefined,
    docker,
    ...dockerFacts,
    missingPackages: missing.flatMap((p) => (p ? [p] : [])),
    ...(network ? { network } : {}),
    swapOn: swaps.trim().split('\n').length > 1,
    existingCluster,
    daemonJsonExists,
    kubeconfigExists,
    daemonJson,
    ...(process.env.DOCKER_CONFIG ? { dockerConfigDir: process.env.DOCKER_CONFIG } : {}),
    cpus: availableParallelism(),
    selfHosted: process.env.RUNNER_ENVIRONMENT === 'self-hosted'
  }
}
