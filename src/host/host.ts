// Every change the action makes to the host goes through here, and each records in the
// ledger what was there before it acts. The undo of each kind of change is at the bottom of
// this file, next to the doers. Root-owned files are put in place by install(1) (with sudo
// when not root); existence and modes are read with Node, which needs no privilege for the
// directories the action writes to.
import { randomUUID } from 'node:crypto'
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { aptInstall, type AptOptions } from './apt.js'
import type { Run, RunOptions, RunResult } from './exec.js'
import { describeChange, type Change, type Ledger } from './ledger.js'
import { systemctlArgv, type ServiceAction, type ServiceManager } from './services.js'

export interface FileOptions {
  /** default 0644 */
  mode?: number
  owner?: { uid: number; gid: number }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

export function installArgv(src: string, dest: string, o: FileOptions = {}): string[] {
  const owner = o.owner ? ['-o', String(o.owner.uid), '-g', String(o.owner.gid)] : []
  return ['install', '-D', '-m', octal(o.mode ?? 0o644), ...owner, src, dest]
}

export function mkdirArgv(path: string, o: FileOptions = {}): string[] {
  const owner = o.owner ? ['-o', String(o.owner.uid), '-g', String(o.owner.gid)] : []
  return ['install', '-d', '-m', octal(o.mode ?? 0o755), ...owner, path]
}

export function sysctlApplyArgv(file: string): string[] {
  return ['sysctl', '-p', file]
}

export function modprobeArgv(modules: readonly string[]): string[] {
  return ['modprobe', '-a', ...modules]
}

export interface Host {
  /** commands with no lasting effect on the host: queries, and kubectl against the cluster */
  run: Run
  services: {
    act(action: ServiceAction, unit?: string): Promise<void>
    logs(unit: string, lines: number): Promise<string>
  }
  writeFile(path: string, content: string, o?: FileOptions): Promise<void>
  installFile(src: string, dest: string, o?: FileOptions): Promise<void>
  ensureDir(path: string, o?: FileOptions): Promise<void>
  /** turns every active swap device off; returns them */
  swapOff(): Promise<string[]>
  /** applies a sysctl.d file, recording the live values of `keys` first */
  applySysctls(file: string, keys: readonly string[]): Promise<void>
  loadModules(modules: readonly string[]): Promise<void>
  /** apt-get install; never two at once (they would fight over dpkg's lock). `optional`: a failure is a warning */
  installPackages(packages: readonly string[], log: (line: string) => void, o?: AptOptions): Promise<void>
  /** runs a command whose effect `undo` reverses (kubeadm init, undone by kubeadm reset) */
  apply(what: string, argv: string[], undo: string[][], opts?: RunOptions): Promise<RunResult>
  /** records commands cleanup must run at this point of the undo, for a change made otherwise */
  undoWith(what: string, undo: string[][]): void
  /** keeps a file beside the backups (root only) for an undo command to use; returns its path */
  keep(name: string, content: string): Promise<string>
  /** something the action starts (kubeadm, a CNI) will create this path: cleanup removes it if it is absent now */
  willCreate(path: string, kind: 'file' | 'dir'): Promise<void>
  /** likewise for a network interface */
  willCreateInterface(name: string): Promise<void>
  /** likewise for a filesystem mounted at `path`: cleanup unmounts it if nothing is mounted there now */
  willMount(path: string): Promise<void>
}

export interface HostOptions {
  run: Run
  services: ServiceManager
  ledger: Ledger
  /** where originals are kept */
  backupDir: string
  /** kernel views, read to record what was there */
  procSwaps: string
  sysModuleDir: string
  sysClassNet: string
  /** the mount table; /proc/self/mounts where not given */
  procMounts?: string
  /** where files are staged before install(1) puts them in place */
  scratch?: string
}

/**
 * Whether a path exists (a dangling link counts). Read with Node, which needs no privilege
 * for most of what the action touches; inside a directory only root may search (containerd
 * makes /etc/cni/net.d 0700), asked as root.
 */
async function existsAs(run: Run, path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    if (code !== 'EACCES') throw new Error(`cannot tell whether ${path} exists: ${(err as Error).message}`, { cause: err })
    return (await run(['stat', '-c', '%F', path], { privileged: true, allowFailure: true })).exitCode === 0
  }
}

/** /proc/swaps writes a space in a path as \040, as fstab does. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** Whether the mount table (/proc/self/mounts: device, mount point, type, ...) has a mount at `path`. */
export async function isMountPoint(table: string, path: string): Promise<boolean> {
  const text = await readFile(table, 'utf8')
  return text.split('\n').some((l) => l.split(' ')[1] !== undefined && unescapeMountPath(l.split(' ')[1]) === path)
}

const MOUNTS = '/proc/self/mounts'

export function createHost(o: HostOptions): Host {
  const { run, ledger } = o
  const exists = (path: string): Promise<boolean> => existsAs(run, path)
  const scratch = o.scratch ?? (process.env.RUNNER_TEMP || tmpdir())
  const root = { privileged: true }
  let backups = 0
  let backupDirReady: Promise<void> | undefined
  let aptQueue: Promise<unknown> = Promise.resolve()

  /** Records the directories `install -D` or `install -d` will create, topmost first. */
  async function claimMissingDirs(dir: string): Promise<void> {
    const missing: string[] = []
    for (let d = dir; d !== dirname(d) && !(await exists(d)); d = dirname(d)) missing.unshift(d)
    for (const d of missing) if (ledger.claim(d)) ledger.record({ kind: 'dir', path: d })
  }

  const ensureBackupDir = (): Promise<void> =>
    (backupDirReady ??= (async () => {
      await claimMissingDirs(o.backupDir)
      await run(mkdirArgv(o.backupDir, { mode: 0o700 }), root)
    })())

  // The first claim of a path records what was there; a later one, even from a step running
  // at the same time, waits for that record before it may change the path.
  const claims = new Map<string, Promise<void>>()
  const once = (key: string, record: () => Promise<void>): Promise<void> => {
    let p = claims.get(key)
    if (!p) {
      ledger.claim(key)
      p = record()
      claims.set(key, p)
    }
    return p
  }

  /** Before a file is written: what was there, backed up whole, recorded once per path. */
  const claimFile = (path: string): Promise<void> => once(path, () => recordFile(path))

  async function recordFile(path: string): Promise<void> {
    await claimMissingDirs(dirname(path))
    if (!(await exists(path))) {
      ledger.record({ kind: 'file', path })
      return
    }
    await ensureBackupDir()
    // unique across runs: an earlier run's backup is never overwritten
    const backup = join(o.backupDir, `${++backups}-${randomUUID().slice(0, 8)}-${basename(path)}`)
    await run(['cp', '-a', path, backup], root)
    ledger.record({ kind: 'file', path, backup })
  }

  /** Written beside us first, then put in place by install(1): one path for root and for a
   * sudo user, and the file never exists half-written at its destination. */
  async function staged(content: string, place: (tmp: string) => Promise<void>): Promise<void> {
    await mkdir(scratch, { recursive: true })
    const tmp = join(scratch, `ksn-${randomUUID()}`)
    await writeFile(tmp, content, { mode: 0o600 })
    try {
      await place(tmp)
    } finally {
      await rm(tmp, { force: true })
    }
  }

  // install(1) unlinks the destination and creates it anew: two at once on one path fail with
  // "File exists", so the installs of a path take turns, in the order they were asked for
  const turns = new Map<string, Promise<unknown>>()
  const inTurn = (key: string, fn: () => Promise<unknown>): Promise<unknown> => {
    const mine = (turns.get(key) ?? Promise.resolve()).then(fn, fn)
    turns.set(key, mine.catch(() => {}))
    return mine
  }

  const installFile = async (src: string, dest: string, fo: FileOptions = {}): Promise<void> => {
    await claimFile(dest)
    await inTurn(dest, () => run(installArgv(src, dest, fo), root))
  }

  return {
    run,
    services: {
      async act(action, unit = '') {
        if (action === 'enable') {
          const s = await o.services.status(unit)
          ledger.record({ kind: 'unit-enabled', unit, was: s.enabled, wasActive: s.active })
        } else if (action === 'restart') {
          ledger.record({ kind: 'unit-restarted', unit, wasActive: (await o.services.status(unit)).active })
        } else if (action === 'reload') {
          ledger.record({ kind: 'unit-reloaded', unit })
        } else {
          ledger.record({ kind: 'units-reloaded' })
        }
        await o.services.act(action, unit)
      },
      logs: (unit, lines) => o.services.logs(unit, lines)
    },
    writeFile: (path, content, fo = {}) => staged(content, (tmp) => installFile(tmp, path, fo)),
    installFile,
    async ensureDir(path, fo = {}) {
      if (await exists(path)) return
      await claimMissingDirs(path)
      await run(mkdirArgv(path, fo), root)
    },
    async swapOff() {
      const devices = (await readFile(o.procSwaps, 'utf8').catch(() => ''))
        .split('\n')
        .slice(1)
        .map((l) => unescapeMountPath(l.split(/\s+/)[0]))
        .filter((d) => d)
        // one path twice: /proc/swaps is the kernel's, and lists a swapfile of another mount
        // namespace under its own path; swapoff refuses a path given twice
        .filter((d, i, all) => all.indexOf(d) === i)
      if (devices.length === 0) return []
      ledger.record({ kind: 'swap-off', devices })
      // exactly the devices recorded: what cleanup turns back on
      await run(['swapoff', ...devices], root)
      return devices
    },
    async applySysctls(file, keys) {
      const values: Record<string, string> = {}
      for (const key of keys) {
        const r = await run(['sysctl', '-n', key], { allowFailure: true })
        // a key that does not exist yet (bridge keys before br_netfilter) has nothing to restore
        if (r.exitCode === 0) values[key] = r.stdout.trim()
      }
      ledger.record({ kind: 'sysctl', values })
      await run(sysctlApplyArgv(file), root)
    },
    async loadModules(modules) {
      const loaded = await Promise.all(modules.map((m) => exists(join(o.sysModuleDir, m))))
      const added = modules.filter((_, i) => !loaded[i])
      if (added.length > 0) ledger.record({ kind: 'modules-loaded', modules: added })
      await run(modprobeArgv(modules), root)
    },
    installPackages(packages, log, opts) {
      const mine = aptQueue.then(async () => {
        // recorded once installed, unlike every other change: cleanup never removes packages,
        // and a record made before an install that then failed would say they were installed
        if (await aptInstall(run, packages, log, opts)) ledger.record({ kind: 'packages-installed', packages: [...packages] })
      })
      aptQueue = mine.catch(() => {})
      return mine
    },
    async apply(what, argv, undo, opts = {}) {
      ledger.record({ kind: 'command', what, undo })
      return run(argv, { privileged: true, ...opts })
    },
    undoWith(what, undo) {
      ledger.record({ kind: 'command', what, undo })
    },
    async keep(name, content) {
      await ensureBackupDir()
      const path = join(o.backupDir, `${++backups}-${randomUUID().slice(0, 8)}-${name}`)
      // recorded before the undo that uses it, so it is removed after that undo has run
      ledger.claim(path)
      ledger.record({ kind: 'file', path })
      await staged(content, async (tmp) => void (await run(installArgv(tmp, path, { mode: 0o600 }), root)))
      return path
    },
    willCreate(path, kind) {
      // a file that is there already will be overwritten: kept like any file the action writes
      if (kind === 'file') return claimFile(path)
      return once(path, async () => {
        if (await exists(path)) return
        await claimMissingDirs(dirname(path))
        ledger.record({ kind: 'dir', path })
      })
    },
    willCreateInterface(name) {
      return once(`interface:${name}`, async () => {
        if (!(await exists(join(o.sysClassNet, name)))) ledger.record({ kind: 'interface', name })
      })
    },
    willMount(path) {
      return once(`mount:${path}`, async () => {
        if (!(await isMountPoint(o.procMounts ?? MOUNTS, path))) ledger.record({ kind: 'mount', path })
      })
    }
  }
}

export interface UndoReport {
  /** the changes put back, one line each */
  undone: string[]
  /** units restarted or reloaded once their files were back */
  restarted: string[]
  /** what the ledger records but cleanup leaves, with why */
  leftInPlace: string[]
  /** undo commands that failed, with their errors */
  failed: string[]
  /** the changes whose undo failed, oldest first: what a later cleanup still has to undo */
  remaining: Change[]
}

/**
 * Puts back what the ledger records, newest first, and nothing else. Every command may fail
 * on a half-done host: each failure is reported and the rest still runs. Units whose
 * configuration changed are restarted (or reloaded) once, after their files are back.
 */
export async function undoChanges(changes: readonly Change[], o: { run: Run; services: ServiceManager; procSwaps: string; sysClassNet: string; procMounts?: string }): Promise<UndoReport> {
  const { run, services } = o
  const report: UndoReport = { undone: [], restarted: [], leftInPlace: [], failed: [], remaining: [] }
  const exec = async (argv: string[]): Promise<boolean> => {
    const r = await run(argv, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (r.exitCode !== 0) report.failed.push(`\`${argv.join(' ')}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`)
    return r.exitCode === 0
  }
  let daemonReload = false
  // units cleanup already stopped with `disable --now`: their unit files may be gone by the end
  const stopped = new Set<string>()
  // after the files: unit -> what to do with it
  const after = new Map<string, 'restart' | 'reload' | 'stop'>()
  for (const c of [...changes].reverse()) {
    let ok = true
    switch (c.kind) {
      case 'file':
        if (c.backup) {
          // copied beside it, then renamed over it: the path is never without a file, and a
          // missing backup (a cleanup run twice) leaves what is there alone
          const tmp = `${c.path}.kubeadm-single-node-restore`
          ok = (await exec(['cp', '-a', c.backup, tmp])) && (await exec(['mv', '-fT', tmp, c.path])) && (await exec(['rm', '-f', c.backup]))
        } else {
          ok = await exec(['rm', '-f', c.path])
        }
        break
      case 'dir':
        // never into another filesystem mounted below it (a CNI's cgroup2 mount whose
        // unmount failed): rm would delete the host's empty cgroups there
        ok = await exec(['rm', '-rf', '--one-file-system', c.path])
        break
      case 'unit-enabled':
        if (c.was !== 'enabled') {
          ok = await services.disable(c.unit, !c.wasActive).then(() => true, (err: Error) => (report.failed.push(err.message), false))
          if (ok && !c.wasActive) stopped.add(c.unit)
        }
        break
      case 'unit-restarted':
        after.set(c.unit, c.wasActive ? 'restart' : 'stop')
        break
      case 'unit-reloaded':
        if (!after.has(c.unit)) after.set(c.unit, 'reload')
        break
      case 'units-reloaded':
        daemonReload = true
        break
      case 'swap-off': {
        // a device the failed swapoff left on is on already: swapon would refuse it
        const on = await readFile(o.procSwaps, 'utf8').catch(() => '')
        for (const d of c.devices) if (!on.split('\n').some((l) => l.split(/\s+/)[0] === d)) ok = (await exec(['swapon', d])) && ok
        break
      }
      case 'sysctl':
        for (const [k, v] of Object.entries(c.values)) ok = (await exec(['sysctl', '-w', `${k}=${v}`])) && ok
        break
      case 'interface':
        // recorded before the CNI ran: it may never have made it
        if (await existsAs(run, join(o.sysClassNet, c.name))) ok = await exec(['ip', 'link', 'delete', c.name])
        break
      case 'mount':
        // recorded before the CNI ran: it may never have mounted it
        if (await isMountPoint(o.procMounts ?? MOUNTS, c.path)) ok = await exec(['umount', c.path])
        break
      case 'modules-loaded':
      case 'packages-installed':
        report.leftInPlace.push(describeChange(c))
        continue
      case 'command':
        for (const argv of c.undo) ok = (await exec(argv)) && ok
        break
    }
    if (ok) report.undone.push(describeChange(c))
    else report.remaining.unshift(c)
  }
  if (daemonReload && (await exec(systemctlArgv('daemon-reload')))) report.restarted.push('systemd units reloaded')
  for (const [unit, action] of after) {
    if (action === 'stop' && stopped.has(unit)) continue
    const done = { restart: 'restarted', reload: 'reloaded', stop: 'stopped' }[action]
    if (await exec(['systemctl', action, unit])) report.restarted.push(`${unit} ${done} with its original configuration`)
  }
  return report
}
