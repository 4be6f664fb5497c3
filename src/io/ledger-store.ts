// Where the ledger and what the post step needs are kept between the step that changes the
// host and the one that diagnoses or undoes it: the Actions state (main -> post), or a file
// (the command line's up -> down). Saved whole after every change, before the change is made.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import * as core from '@actions/core'
import type { CacheRecord } from '../cache/session.js'
import type { Cni } from '../cnis/index.js'
import type { StepId } from '../engine/step.js'
import type { Change } from '../host/ledger.js'
import type { Paths } from '../host/paths.js'
import type { Runtime } from '../runtimes/index.js'

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
  runtime: Runtime
  cni: Cni
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
    clear: () => rmSync(path, { force: true })
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
