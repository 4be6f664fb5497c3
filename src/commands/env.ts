// What a command is given by its entry point: where the host's files are, how to run
// commands and drive services, how to report, and where the ledger is kept.
import type { CacheBackend } from '../cache/backend.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import type { ServiceManager } from '../host/services.js'
import type { LedgerStore } from '../io/ledger-store.js'
import type { Reporter } from '../io/reporter.js'

export interface CommandEnv {
  paths: Paths
  run: Run
  services: ServiceManager
  io: Reporter
  /** this run's ledger */
  store: LedgerStore
  /** the ledger kept on the host between runs: what an earlier run left (on-existing) */
  hostLedger: LedgerStore
  /** where hostLedger is, for messages */
  hostLedgerFile: string
  /** where the action runs: decides what `cleanup: auto` means */
  where: 'actions' | 'terminal'
  /** where cache entries live between runs; none, no cache (the cache input turns it off too) */
  cache?: CacheBackend
  /** when the step began, as performance.now() counts (0: the process's start, the Actions step's); the command's start where unset */
  startedAt?: number
}
