// The host, as steps change it: every change goes through here and is recorded in the
// ledger, with what was there, before it is made. Each kind of change is one module in
// changes/ (its record, its description, its doing and its undoing side by side); this file
// holds what they share: claims on a path, backups, staging, install(1)'s turns. Root-owned
// files are put in place by install(1) (with sudo when not root); existence and modes are
// read with Node, which needs no privilege for the directories the action writes to.
import { randomUUID } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { existsAs } from './changes/exists.js'
import { refuseUntrustedLink } from './links.js'
import { underRoots } from './changes/fields.js'
import { runContainer } from './changes/container.js'
import { claimMissingDirs, ensureDir, mkdirArgv, willCreateDir } from './changes/dir.js'
import { claimFile, installArgv } from './changes/file.js'
import { createDummyInterface, willCreateInterface } from './changes/interface.js'
import type { DoContext, FileOptions } from './changes/kind.js'
import { kubeadmInit, type KubeadmInit } from './changes/kubeadm-init.js'
import { loadModules } from './changes/module.js'
import { willMount } from './changes/mount.js'
import { packageInstaller } from './changes/package.js'
import { reloadOnUndo } from './changes/reload.js'
import { swapOff } from './changes/swap.js'
import { applySysctls } from './changes/sysctl.js'
import { actOnUnit } from './changes/unit.js'
import type { AptOptions } from './apt.js'
import type { Run, RunOptions, RunResult } from './exec.js'
import type { Change, Ledger } from './ledger.js'
import type { ServiceAction, ServiceManager } from './services.js'

// where steps, the dry run and the plan's tree have always taken these from
export { installArgv } from './changes/file.js'
export { mkdirArgv } from './changes/dir.js'
export { dockerRunArgv, dockerRemoveArgv, CONTAINER_NAME } from './changes/container.js'
export { sysctlApplyArgv } from './changes/sysctl.js'
export { modprobeArgv } from './changes/module.js'
export { dummyInterfaceArgvs } from './changes/interface.js'
export { isMountPoint, unescapeMountPath } from './changes/mount.js'
export { undoChanges, type UndoReport } from './changes/index.js'
export type { FileOptions } from './changes/kind.js'

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
  /** kubeadm init, undone by a kubeadm reset built from the same record */
  kubeadmInit(init: KubeadmInit, opts?: RunOptions): Promise<RunResult>
  /** cleanup reloads `unit` with `content` at `path` at this point of the undo, before the original is back */
  reloadOnUndo(unit: string, path: string, name: string, content: string): Promise<void>
  /** something the action starts (kubeadm, a CNI) will create this path: cleanup removes it if it is absent now */
  willCreate(path: string, kind: 'file' | 'dir'): Promise<void>
  /** likewise for a network interface */
  willCreateInterface(name: string): Promise<void>
  /** a dummy interface routing `cidrs` to it, recorded before it is made: cleanup deletes it and its routes */
  addDummyInterface(name: string, cidrs: readonly string[]): Promise<void>
  /** likewise for a filesystem mounted at `path`: cleanup unmounts it if nothing is mounted there now */
  willMount(path: string): Promise<void>
  /** `docker run --detach --name NAME ARGS…` in the host's Docker; refused where a container has that name, removed by cleanup */
  runContainer(name: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>
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
  /** the places the ledger accepts (host/paths.ts, writeRoots): a missing directory above them
   * (/opt for /opt/cni) is made but not recorded, so cleanup leaves it, as the ledger would refuse it */
  undoRoots?: readonly string[]
}

export function createHost(o: HostOptions): Host {
  const { run, ledger } = o
  const scratch = o.scratch ?? (process.env.RUNNER_TEMP || tmpdir())
  let backups = 0
  let backupDirReady: Promise<void> | undefined

  // The first claim of a path records what was there; a later one, even from a step running
  // at the same time, waits for that record before it may change the path.
  const claims = new Map<string, Promise<void>>()

  const ctx: DoContext = {
    run,
    services: o.services,
    root: { privileged: true },
    record: (change) => ledger.record(change as Change),
    claim: (key) => ledger.claim(key),
    once(key, record) {
      let p = claims.get(key)
      if (!p) {
        ledger.claim(key)
        p = record()
        claims.set(key, p)
      }
      return p
    },
    exists: (path) => existsAs(run, path),
    claimMissingDirs: (dir) => claimMissingDirs(ctx, dir),
    undoable: (path) => o.undoRoots === undefined || underRoots(path, o.undoRoots),
    async backupPath(name) {
      await (backupDirReady ??= (async () => {
        await ctx.claimMissingDirs(o.backupDir)
        await run(mkdirArgv(o.backupDir, { mode: 0o700 }), ctx.root)
      })())
      // unique across runs: an earlier run's backup is never overwritten
      return join(o.backupDir, `${++backups}-${randomUUID().slice(0, 8)}-${name}`)
    },
    /** Written beside us first, then put in place by install(1): one path for root and for a
     * sudo user, and the file never exists half-written at its destination. */
    async staged(content, place) {
      await mkdir(scratch, { recursive: true })
      const tmp = join(scratch, `ksn-${randomUUID()}`)
      await writeFile(tmp, content, { mode: 0o600 })
      try {
        await place(tmp)
      } finally {
        await rm(tmp, { force: true })
      }
    },
    procSwaps: o.procSwaps,
    sysModuleDir: o.sysModuleDir,
    sysClassNet: o.sysClassNet,
    procMounts: o.procMounts ?? '/proc/self/mounts'
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
    // the source is staged or downloaded in the runner's temporary directory, the user's:
    // root's install would copy whatever a link put in its place there. Only the file itself:
    // it was made a moment ago under a fresh name, so nothing left behind can be there, while
    // the directories above it are the runner's layout (a self-hosted runner's work
    // directory may well be a link its administrator made)
    await refuseUntrustedLink(src, `install ${src} to ${dest}`, { lastOnly: true })
    await claimFile(ctx, dest)
    await inTurn(dest, () => run(installArgv(src, dest, fo), ctx.root))
  }

  return {
    run,
    services: {
      act: (action, unit) => actOnUnit(ctx, action, unit),
      logs: (unit, lines) => o.services.logs(unit, lines)
    },
    writeFile: (path, content, fo = {}) => ctx.staged(content, (tmp) => installFile(tmp, path, fo)),
    installFile,
    ensureDir: (path, fo) => ensureDir(ctx, path, fo),
    swapOff: () => swapOff(ctx),
    applySysctls: (file, keys) => applySysctls(ctx, file, keys),
    loadModules: (modules) => loadModules(ctx, modules),
    installPackages: packageInstaller(ctx),
    kubeadmInit: (init, opts) => kubeadmInit(ctx, init, opts),
    reloadOnUndo: (unit, path, name, content) => reloadOnUndo(ctx, unit, path, name, content),
    // a file that is there already will be overwritten: kept like any file the action writes
    willCreate: (path, kind) => (kind === 'file' ? claimFile(ctx, path) : willCreateDir(ctx, path)),
    willCreateInterface: (name) => willCreateInterface(ctx, name),
    addDummyInterface: (name, cidrs) => createDummyInterface(ctx, name, cidrs),
    willMount: (path) => willMount(ctx, path),
    runContainer: (name, args, opts) => runContainer(ctx, name, args, opts)
  }
}
