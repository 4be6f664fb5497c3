// Read-only facts about the host, gathered before planning (and by the dry run): nothing
// here changes the machine.
import { access, readFile } from 'node:fs/promises'
import { availableParallelism, userInfo } from 'node:os'
import { delimiter, join } from 'node:path'
import { HOST_PACKAGES } from './defaults.js'
import type { Run } from './host/exec.js'
import { isRoot } from './host/exec.js'
import type { Paths } from './paths.js'

export type Arch = 'amd64' | 'arm64'

export interface HostFacts {
  arch: Arch
  root: boolean
  user: { name: string; uid: number; gid: number; home: string }
  containerd?: { version: string; major: number }
  docker: boolean
  missingPackages: string[]
  swapOn: boolean
  containerdConfigExists: boolean
  /** /etc/kubernetes/admin.conf exists: a cluster from an earlier run is still here */
  existingCluster: boolean
  /** /etc/docker/daemon.json exists (parsed into daemonJson when it is valid JSON) */
  daemonJsonExists: boolean
  daemonJson?: Record<string, unknown>
  /** ~/.kube/config exists: the runner user's own, never overwritten */
  kubeconfigExists: boolean
  cpus: number
  selfHosted: boolean
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

export async function probeHost(run: Run, paths: Paths): Promise<HostFacts> {
  const u = userInfo()
  const home = process.env.HOME || u.homedir
  const [containerdOut, docker, missing, swaps, cfgExists, existingCluster, daemonJsonExists, daemonJson, kubeconfigExists] = await Promise.all([
    run(['containerd', '--version'], { allowFailure: true }).catch(() => undefined),
    onPath('docker'),
    Promise.all(HOST_PACKAGES.map(async (p) => ((await onPath(p.bin)) ? undefined : p.pkg))),
    readFile('/proc/swaps', 'utf8').catch(() => ''),
    exists(paths.containerdConfig),
    exists(paths.adminConf),
    exists(paths.dockerDaemonJson),
    readFile(paths.dockerDaemonJson, 'utf8').then(
      (t) => JSON.parse(t) as Record<string, unknown>,
      () => undefined
    ),
    exists(join(home, '.kube', 'config'))
  ])
  return {
    arch: kubeArch(process.arch),
    root: isRoot(),
    // HOME first: it is where the runner user's later steps look for ~/.kube
    user: { name: u.username, uid: u.uid, gid: u.gid, home },
    containerd: containerdOut && containerdOut.exitCode === 0 ? parseContainerdVersion(containerdOut.stdout) : undefined,
    docker,
    missingPackages: missing.flatMap((p) => (p ? [p] : [])),
    swapOn: swaps.trim().split('\n').length > 1,
    containerdConfigExists: cfgExists,
    existingCluster,
    daemonJsonExists,
    kubeconfigExists,
    daemonJson,
    cpus: availableParallelism(),
    selfHosted: process.env.RUNNER_ENVIRONMENT === 'self-hosted'
  }
}
