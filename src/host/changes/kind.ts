// What every kind of host change provides, and what its doing and undoing are given. A kind
// is one module in this folder: its record type, its dry-run description, the doing that
// records it before acting, and the undo that turns the record back into commands. The
// registry (index.ts) maps every kind to its module, so a kind without an undo does not
// compile; the ledger holds only these records, never a command.
import type { Run, RunOptions } from '../exec.js'
import type { ServiceManager } from '../services.js'
import type { Fields } from './fields.js'

/** What a kind's doer works through (host.ts builds it once per host). */
export interface DoContext {
  run: Run
  services: ServiceManager
  /** saved before it returns: the change is made only once it is recorded */
  record<C extends { kind: string }>(change: C): Promise<void>
  /** true the first time a path (or key) is claimed */
  claim(key: string): boolean
  /** the first claim of `key` runs `record`; later ones wait for it */
  once(key: string, record: () => Promise<void>): Promise<void>
  /** whether a path exists (a dangling link counts), asked as root where only root may look */
  exists(path: string): Promise<boolean>
  /** records the directories `install -D` or `install -d` will create, topmost first */
  claimMissingDirs(dir: string): Promise<void>
  /** whether a change at `path` may be recorded: it lies under the places the ledger accepts */
  undoable(path: string): boolean
  /** a unique path in the backup directory (made, and recorded, on first use) */
  backupPath(name: string): Promise<string>
  /** `content` written beside us, then put in place by `place` (install(1) as root) */
  staged(content: string, place: (tmp: string) => Promise<void>): Promise<void>
  /** root commands */
  root: RunOptions
  procSwaps: string
  sysModuleDir: string
  sysClassNet: string
  procMounts: string
}

/** What a kind's undo works through (undo.ts builds it once per cleanup). */
export interface UndoContext {
  run: Run
  services: ServiceManager
  /** runs `argv` as root; a failure is reported and false returned, never thrown */
  exec(argv: string[]): Promise<boolean>
  /** reports a failure that was not a command's */
  fail(message: string): void
  exists(path: string): Promise<boolean>
  procSwaps: string
  sysClassNet: string
  procMounts: string
  /** what happens once every file is back: systemd reloaded, units restarted, reloaded or stopped */
  later: {
    daemonReload: boolean
    units: Map<string, 'restart' | 'reload' | 'stop'>
    /** units cleanup stopped with `disable --now`: their unit files may be gone by the end */
    stopped: Set<string>
  }
}

/** undone; not undone (what failed is reported); or left in place on purpose */
export type UndoOutcome = 'undone' | 'failed' | 'left'

export interface ChangeKind<C extends { kind: string }> {
  /** one line, for logs, the dry run and the post step's report */
  describe(c: C): string
  undo(c: C, u: UndoContext): Promise<UndoOutcome>
  /** cleanup leaves this change in place on purpose (packages, kernel modules): said, never undone */
  leftInPlace?: true
  /** the record read back from a saved ledger: every field typed, every path under the roots */
  parse(f: Fields): C
}

export const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

export interface FileOptions {
  /** default 0644 (0755 for a directory) */
  mode?: number
  owner?: { uid: number; gid: number }
}

export const ownerArgs = (o: FileOptions): string[] => (o.owner ? ['-o', String(o.owner.uid), '-g', String(o.owner.gid)] : [])
