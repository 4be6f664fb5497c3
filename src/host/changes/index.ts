// Every kind of host change, one module each, and the registry that maps a recorded kind
// to its module. The mapped type makes a kind without a description, an undo or a schema a
// compile error. A new kind: a module beside these, its record in `Change`, a line in KINDS.
import type { Run } from '../exec.js'
import type { ServiceManager } from '../services.js'
import { container, type ContainerChange } from './container.js'
import { dir, type DirChange } from './dir.js'
import { existsAs } from './exists.js'
import { Fields, LedgerSchemaError } from './fields.js'
import { file, type FileChange } from './file.js'
import { networkInterface, type InterfaceChange } from './interface.js'
import type { ChangeKind, UndoContext } from './kind.js'
import { kubeadmInitKind, type KubeadmInitChange } from './kubeadm-init.js'
import { kernelModule, type ModulesLoadedChange } from './module.js'
import { isMountPoint, mount, type MountChange } from './mount.js'
import { installedPackage, type PackagesInstalledChange } from './package.js'
import { reloadWith, type ReloadWithChange } from './reload.js'
import { swap, type SwapOffChange } from './swap.js'
import { sysctl, type SysctlChange } from './sysctl.js'
import { unitEnabled, unitReloaded, unitRestarted, unitsReloaded, type UnitEnabledChange, type UnitReloadedChange, type UnitRestartedChange, type UnitsReloadedChange } from './unit.js'

export type Change =
  | FileChange
  | DirChange
  | UnitEnabledChange
  | UnitRestartedChange
  | UnitReloadedChange
  | UnitsReloadedChange
  | SwapOffChange
  | SysctlChange
  | ModulesLoadedChange
  | PackagesInstalledChange
  | InterfaceChange
  | MountChange
  | KubeadmInitChange
  | ReloadWithChange
  | ContainerChange

export type ChangeKindName = Change['kind']

export const KINDS: { [K in ChangeKindName]: ChangeKind<Extract<Change, { kind: K }>> } = {
  file,
  dir,
  'unit-enabled': unitEnabled,
  'unit-restarted': unitRestarted,
  'unit-reloaded': unitReloaded,
  'units-reloaded': unitsReloaded,
  'swap-off': swap,
  sysctl,
  'modules-loaded': kernelModule,
  'packages-installed': installedPackage,
  interface: networkInterface,
  mount,
  'kubeadm-init': kubeadmInitKind,
  'reload-with': reloadWith,
  container
}

const kindOf = <C extends Change>(c: C): ChangeKind<C> => KINDS[c.kind] as unknown as ChangeKind<C>

/** One line per change, for logs, the dry run and the post step's report. */
export function describeChange(c: Change): string {
  return kindOf(c).describe(c)
}

/** Whether cleanup leaves the change in place on purpose: the dry run says so instead of "undo". */
export function leftInPlace(c: Change): boolean {
  return kindOf(c).leftInPlace === true
}

/**
 * A recorded change read back (from the Actions state, or the host's file): its kind must be
 * one of KINDS, and that kind's schema must accept every field. `roots`: where a path it
 * names may lie; `backupDir`: where a file it keeps (an original) must lie. Throws LedgerSchemaError naming the change and the field.
 */
export function parseChange(raw: unknown, index: number, roots: readonly string[], named?: string[], backupDir?: string): Change {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LedgerSchemaError(`change ${index} is ${JSON.stringify(raw)}, not a record`)
  const kind = (raw as { kind?: unknown }).kind
  if (typeof kind !== 'string' || !Object.hasOwn(KINDS, kind)) {
    throw new LedgerSchemaError(`change ${index} has kind ${JSON.stringify(kind)}, which is not one the action records (${Object.keys(KINDS).join(', ')})`)
  }
  return KINDS[kind as ChangeKindName].parse(new Fields(raw as Record<string, unknown>, `change ${index} (${kind})`, roots, named, backupDir))
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

export interface UndoOptions {
  run: Run
  services: ServiceManager
  procSwaps: string
  sysClassNet: string
  /** the mount table; /proc/self/mounts where not given */
  procMounts?: string
}

/**
 * Puts back what the ledger records, newest first, and nothing else: each kind's own undo
 * turns its record into commands. Every command may fail on a half-done host: each failure
 * is reported and the rest still runs. Units whose configuration changed are restarted (or
 * reloaded) once, after their files are back.
 */
export async function undoChanges(changes: readonly Change[], o: UndoOptions): Promise<UndoReport> {
  const report: UndoReport = { undone: [], restarted: [], leftInPlace: [], failed: [], remaining: [] }
  const exec = async (argv: string[]): Promise<boolean> => {
    const r = await o.run(argv, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (r.exitCode !== 0) report.failed.push(`\`${argv.join(' ')}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`)
    return r.exitCode === 0
  }
  const u: UndoContext = {
    run: o.run,
    services: o.services,
    exec,
    fail: (m) => void report.failed.push(m),
    exists: (path) => existsAs(o.run, path),
    procSwaps: o.procSwaps,
    sysClassNet: o.sysClassNet,
    procMounts: o.procMounts ?? '/proc/self/mounts',
    later: { daemonReload: false, units: new Map(), stopped: new Set() }
  }
  for (const c of [...changes].reverse()) {
    const outcome = await kindOf(c).undo(c, u)
    if (outcome === 'left') report.leftInPlace.push(describeChange(c))
    else if (outcome === 'undone') report.undone.push(describeChange(c))
    else report.remaining.unshift(c)
  }
  if (u.later.daemonReload && (await exec(['systemctl', 'daemon-reload']))) report.restarted.push('systemd units reloaded')
  for (const [unit, action] of u.later.units) {
    if (action === 'stop' && u.later.stopped.has(unit)) continue
    const done = { restart: 'restarted', reload: 'reloaded', stop: 'stopped' }[action]
    if (await exec(['systemctl', action, '--', unit])) report.restarted.push(`${unit} ${done} with its original configuration`)
  }
  return report
}

export { existsAs, isMountPoint, LedgerSchemaError }
export { underRoots } from './fields.js'
