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
  store: LedgerStore
  /** where the action runs: decides what `cleanup: auto` means */
  where: 'actions' | 'terminal'
  /** where cache entries live between runs; none, no cache (the cache input turns it off too) */
  cache?: CacheBackend
}
