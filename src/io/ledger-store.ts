// Where the ledger and what the post step needs are kept between the step that changes the
// host and the one that diagnoses or undoes it: the Actions state (main -> post), or the
// host's root-owned file (host-ledger.ts: the command line's up -> down, and later runs).
// Each change is saved as it happens, on its own, before it is made; the rest of the record
// (the head) is saved at the points it changes. The action keeps it in both: the Actions
// state dies with the job, and on a self-hosted runner a later run (on-existing: reset) or
// the command line's `down` needs what this run left, so the host's file outlives the job
// until a cleanup undoes everything it records.
import * as core from '@actions/core'
import type { CacheRecord } from '../cache/session.js'
import type { DiagnosticsArtifact } from '../config/inputs.js'
import type { StepId, StepTiming } from '../engine/step.js'
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
  /** the inputs of the add-ons the run turned on (src/addons/index.ts); absent, none */
  addons?: string[]
  /** set once the run succeeded with the cache on: what the post step saves */
  cache?: CacheRecord
  /** when this job's post step uploads the diagnostics archive; absent: on-failure */
  diagnosticsArtifact?: DiagnosticsArtifact
  /** each step that ended, with its times: the archive's timings (a cancelled run's too) */
  timings?: StepTiming[]
}

/** The record but its changes: saved where it changes (a step done, the run's end). */
export type RecordHead = Omit<LedgerRecord, 'changes'>

export const headOf = (r: LedgerRecord): RecordHead => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'changes')) as RecordHead

export interface LedgerStore {
  saveHead(head: RecordHead): Promise<void>
  /** change number `index`, before it is made: appended, never the whole record again */
  saveChange(index: number, change: Change): Promise<void>
  /** the whole record anew: a cleanup that leaves some changes, a ledger a run adopts */
  save(r: LedgerRecord): Promise<void>
  load(): Promise<LedgerRecord | undefined>
  /** after a complete undo: nothing is left to undo */
  clear(): Promise<void>
  /** the places a record may name (host/paths.ts, writeRoots), where the store checks them */
  roots?: readonly string[]
}

const KEY = 'kubeadm-single-node'
const COUNT = `${KEY}-changes`
const changeKey = (i: number): string => `${KEY}-change-${i}`
/** What main saves under the head's key before anything else: no record (yet). */
const NO_RECORD = 'none'

/** The Actions state as the post step found it, before any check: a record's head, or nothing. */
export class StateRecordError extends Error {
  constructor(why: string) {
    super(`The run record in the Actions state ${why}`)
    this.name = 'StateRecordError'
  }
}

/**
 * Main's first save, before the inputs are read: the head's key and the count, so that the
 * runner hands the post step main's values for them and never ones an earlier step of the
 * job put in the environment (it sets STATE_<key> only for keys the action saved; every
 * other STATE_ variable comes from the job's env, which any step can add to through
 * GITHUB_ENV). A main step that then fails on its inputs leaves "no record", not nothing.
 */
export function claimActionsState(): void {
  core.saveState(KEY, NO_RECORD)
  core.saveState(COUNT, '0')
}

/**
 * The Actions state: the head under one key, the number of changes under another, change i
 * under its own key. The runner appends every saveState to the job's state file and keeps the
 * last value of each key, so a change costs its own bytes and the count's once, and the state
 * grows linearly with the run. Load reads exactly as many changes as the count says: a key
 * past it is never read, whoever set it. `parse` is the record's schema (parseStateRecord in
 * host-ledger.ts): the state is in the runner's environment, where steps before this one can
 * add variables, so nothing from it is used as it is.
 */
export function actionsStateStore(parse: (raw: unknown) => Promise<LedgerRecord>): LedgerStore {
  // keys 0..written-1 hold this record's changes
  let written = 0
  const put = (i: number, c: Change): void => {
    core.saveState(changeKey(i), JSON.stringify(c))
    written = Math.max(written, i + 1)
    core.saveState(COUNT, String(written))
  }
  return {
    async saveHead(head) {
      core.saveState(KEY, JSON.stringify(head))
      core.saveState(COUNT, String(written))
    },
    saveChange: async (i, c) => put(i, c),
    async save(r) {
      core.saveState(KEY, JSON.stringify(headOf(r)))
      r.changes.forEach((c, i) => core.saveState(changeKey(i), JSON.stringify(c)))
      // the keys past its end are left: the count says where the record ends
      written = r.changes.length
      core.saveState(COUNT, String(written))
    },
    async load() {
      const raw = readActionsState()
      if (raw === undefined) return undefined
      const r = await parse(raw)
      written = Math.max(written, r.changes.length)
      return r
    },
    // the post step is the last reader of the Actions state
    clear: async () => {}
  }
}

/**
 * The record as the runner handed it over, unchecked: the head with the first `count`
 * changes; undefined where main saved none. A head saved whole (with its list of changes) is
 * taken as it is, for the schema to judge.
 */
export function readActionsState(): unknown {
  const head = core.getState(KEY)
  if (head === '' || head === NO_RECORD) return undefined
  let r: unknown
  try {
    r = JSON.parse(head)
  } catch (err) {
    throw new StateRecordError(`is not JSON (${(err as Error).message})`)
  }
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new StateRecordError('is not a JSON object')
  const rec = r as Record<string, unknown>
  if (Array.isArray(rec.changes)) return rec
  const text = core.getState(COUNT)
  if (!/^(0|[1-9][0-9]{0,5})$/.test(text)) throw new StateRecordError(`has no count of its changes (${JSON.stringify(text)})`)
  const changes: unknown[] = []
  for (let i = 0; i < Number(text); i++) {
    const raw = core.getState(changeKey(i))
    try {
      changes.push(JSON.parse(raw))
    } catch {
      throw new StateRecordError(`counts ${text} changes, and change ${i} is ${raw === '' ? 'missing' : 'not JSON'}`)
    }
  }
  return { ...rec, changes }
}

/**
 * The action's store: every save goes to the Actions state (for this job's post step) and to
 * the host's file (for a later run on the same machine); a clear empties both. `load` reads
 * only this job's state: the post step must never diagnose or undo another job's run. A file
 * that cannot be written costs a warning, not the run.
 */
export function actionsStore(file: LedgerStore, warn: (message: string) => void, parse: (raw: unknown) => Promise<LedgerRecord>): LedgerStore {
  const state = actionsStateStore(parse)
  let warned = false
  const onHost = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      if (!warned) warn(`Could not ${what} the ledger's copy on this host (${(err as Error).message}): a later run on this machine will not know what this one changed.`)
      warned = true
    }
  }
  return {
    async saveHead(head) {
      await state.saveHead(head)
      await onHost('write', () => file.saveHead(head))
    },
    async saveChange(i, c) {
      await state.saveChange(i, c)
      await onHost('write', () => file.saveChange(i, c))
    },
    async save(r) {
      await state.save(r)
      await onHost('write', () => file.save(r))
    },
    load: () => state.load(),
    async clear() {
      await state.clear()
      await onHost('remove', () => file.clear())
    }
  }
}
