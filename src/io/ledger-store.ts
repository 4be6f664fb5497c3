// Where the ledger and what the post step needs are kept between the step that changes the
// host and the one that diagnoses or undoes it: the Actions state (main -> post), or a file
// (the command line's up -> down). Saved whole after every change, before the change is made.
// The action keeps it in both: the Actions state dies with the job, and on a self-hosted
// runner a later run (on-existing: reset) or the command line's `down` needs what this run
// left, so the host's file outlives the job until a cleanup undoes everything it records.
import { mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import * as core from '@actions/core'
import type { CacheRecord } from '../cache/session.js'
import type { StepId } from '../engine/step.js'
import type { Change } from '../host/ledger.js'
import type { Paths } from '../host/paths.js'

export interface LedgerRecord {
  /** every host change, oldest first, with what was there before */
  changes: Change[]
  /** steps that finished: what the post step diagnoses from */
  completed: StepId[]
  failed?: { step?: StepId; message: string }
  /** the main step got to its end; a record without it or `failed` was cancelled or timed out */
  finished?: boolean
  /** undo the changes in the post step */
  cleanup: boolean
  kubeconfig: string
  paths: Paths
  /** what diagnostics to collect */
  /** names in the runtime and CNI registries (src/runtimes/index.ts, src/cnis/index.ts) */
  runtime: string
  cni: string
  /** set once the run succeeded with the cache on: what the post step saves */
  cache?: CacheRecord
}

export interface LedgerStore {
  save(r: LedgerRecord): void
  load(): LedgerRecord | undefined
  /** after a complete undo: nothing is left to undo */
  clear(): void
}

const KEY = 'kubeadm-single-node'

export function actionsStateStore(): LedgerStore {
  return {
    save: (r) => core.saveState(KEY, JSON.stringify(r)),
    load: () => parse(core.getState(KEY)),
    // the post step is the last reader of the Actions state
    clear: () => {}
  }
}

/** The command line's record: $XDG_STATE_HOME/kubeadm-single-node/ledger.json by default. */
export function defaultLedgerFile(): string {
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'kubeadm-single-node', 'ledger.json')
}

export function fileStore(path = defaultLedgerFile()): LedgerStore {
  return {
    save(r) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
      // renamed into place: a crash leaves the previous record or this one, never half of one
      writeFileSync(`${path}.tmp`, JSON.stringify(r, null, 2), { mode: 0o600 })
      renameSync(`${path}.tmp`, path)
    },
    load: () => {
      try {
        return parse(readFileSync(path, 'utf8'))
      } catch {
        return undefined
      }
    },
    clear: () => {
      rmSync(path, { force: true })
      // the directory is ours too; left where something else put a file in it
      try {
        rmdirSync(dirname(path))
      } catch {
        /* not empty, or already gone */
      }
    }
  }
}

/**
 * The action's store: every save goes to the Actions state (for this job's post step) and to
 * the host's file (for a later run on the same machine); a clear empties both. `load` reads
 * only this job's state: the post step must never diagnose or undo another job's run. A file
 * that cannot be written costs a warning, not the run.
 */
export function actionsStore(file: LedgerStore, warn: (message: string) => void): LedgerStore {
  const state = actionsStateStore()
  let warned = false
  const onHost = (what: string, fn: () => void): void => {
    try {
      fn()
    } catch (err) {
      if (!warned) warn(`Could not ${what} the ledger's copy on this host (${(err as Error).message}): a later run on this machine will not know what this one changed.`)
      warned = true
    }
  }
  return {
    save(r) {
      state.save(r)
      onHost('write', () => file.save(r))
    },
    load: () => state.load(),
    clear() {
      state.clear()
      onHost('remove', () => file.clear())
    }
  }
}

function parse(raw: string): LedgerRecord | undefined {
  if (!raw) return undefined
  try {
    const r = JSON.parse(raw) as LedgerRecord
    return Array.isArray(r.changes) ? r : undefined
  } catch {
    return undefined
  }
}
