// The ledger kept on the host between runs, for a later run (on-existing) or `down`: one
// file in a root-owned 0700 directory (/var/lib/kubeadm-single-node/), written and read as
// root. Its records are replayed as root, so before a byte of it is used the file and its
// directory must be root's and writable by no one else, and the record must pass the schema:
// every field typed, every kind one the action records (each kind's own `parse`, in
// src/host/changes/), every path under the places the action writes to (writeRoots in
// src/host/paths.ts), reached through no symbolic link that leads elsewhere, and the host's
// layout (`paths`) the one this run uses. A file that fails any of this is an error naming
// it and saying what to do; never "nothing recorded".
import { lstat, readFile, realpath } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PHASES, type StepId, type StepTiming } from '../engine/step.js'
import { parseChange, underRoots, type Change } from '../host/changes/index.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import { CNIS } from '../cnis/index.js'
import { writeRoots } from '../host/paths.js'
import { RUNTIMES } from '../runtimes/index.js'
import type { LedgerRecord, LedgerStore, RecordHead } from './ledger-store.js'
import type { CacheRecord } from '../cache/session.js'
import { DIAGNOSTICS_ARTIFACT_VALUES, type DiagnosticsArtifact } from '../config/inputs.js'
import { isImageReference } from '../images/ref.js'
import type { StoreRef } from '../runtimes/types.js'

/** What a stat says, as far as trust goes; undefined where nothing is there. */
export interface Inode {
  uid: number
  /** permission bits */
  mode: number
  type: 'file' | 'dir' | 'link' | 'other'
}
export type StatFn = (path: string) => Promise<Inode | undefined>

export class LedgerTrustError extends Error {
  constructor(
    readonly file: string,
    why: string
  ) {
    super(
      `The ledger ${file} ${why}. Nothing in it was run. Inspect it as root (sudo cat ${file}); if it is not what a run of this action on this host left, remove it as root (sudo rm ${file}), then run again.`
    )
    this.name = 'LedgerTrustError'
  }
}

const typeOf = (mode: number): Inode['type'] => {
  const fmt = mode & 0o170000
  return fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'link' : 'other'
}

/** lstat, or `stat` as root where only root may look (the ledger's directory is 0700). */
export function hostStat(run: Run): StatFn {
  return async (path) => {
    try {
      const st = await lstat(path)
      return { uid: st.uid, mode: st.mode & 0o7777, type: typeOf(st.mode) }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      if (code !== 'EACCES') throw err
    }
    // %u owner, %f the raw mode in hex; never follows a link (stat without -L)
    const r = await run(['stat', '-c', '%u %f', '--', path], { privileged: true, allowFailure: true })
    if (r.exitCode !== 0) {
      if (/No such file|Not a directory/.test(r.stderr)) return undefined
      throw new Error(`cannot stat ${path}: ${r.stderr.trim()}`)
    }
    const [uid, raw] = r.stdout.trim().split(' ')
    const mode = parseInt(raw, 16)
    return { uid: Number(uid), mode: mode & 0o7777, type: typeOf(mode) }
  }
}

/** Where earlier versions kept the ledger, in the user's home: never replayed, only reported. */
export function oldLedgerFile(): string {
  return join(process.env.XDG_STATE_HOME || join(process.env.HOME || homedir(), '.local', 'state'), 'kubeadm-single-node', 'ledger.json')
}

export interface HostLedgerOptions {
  /** the file; its directory is made root's and 0700 */
  file: string
  run: Run
  /** this host's layout: a record must name it, and every path in it lies under its roots */
  paths: Paths
  /** the runner user's home (its ~/.kube and ~/.docker are roots too) */
  home: string
  /** the runtimes and CNIs there are (the entry points know their registries) */
  known: { runtimes: readonly string[]; cnis: readonly string[]; addons: readonly string[] }
  /** for tests: a stat that can say what running as root here cannot make (another owner) */
  stat?: StatFn
  /** where the file is staged before install(1) puts it in place */
  scratch?: string
}

const HEAD_FIELDS = new Set(['changes', 'completed', 'failed', 'finished', 'cleanup', 'kubeconfig', 'paths', 'runtime', 'cni', 'addons', 'timings'])

/**
 * The record's schema. `cache` and `diagnosticsArtifact` are not in it: the host's copy never
 * holds what the post step saves or uploads (hostLedgerStore drops them), as only this job's
 * own post step may act on it.
 */
export function parseHostRecord(raw: unknown, o: Pick<HostLedgerOptions, 'paths' | 'known'> & { roots: readonly string[]; named?: string[] }): LedgerRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('is not a JSON object')
  const r = raw as Record<string, unknown>
  const extra = Object.keys(r).filter((k) => !HEAD_FIELDS.has(k))
  if (extra.length) throw new Error(`has field${extra.length > 1 ? 's' : ''} the action never writes: ${extra.join(', ')}`)
  if (!Array.isArray(r.changes)) throw new Error("has no list of 'changes'")
  const changes: Change[] = r.changes.map((c, i) => parseChange(c, i, o.roots, o.named, o.paths.backupDir))
  // a step id is its phase and a name (engine/step.ts); the post step only reports them
  const stepId = new RegExp(`^(${PHASES.join('|')})\\.[a-z0-9-]{1,40}$`)
  const steps = { has: (s: string): boolean => stepId.test(s) }
  if (!Array.isArray(r.completed) || !r.completed.every((s) => typeof s === 'string' && steps.has(s))) throw new Error(`field 'completed' is ${JSON.stringify(r.completed)}; accepted: a list of the action's step ids`)
  let failed: LedgerRecord['failed']
  if (r.failed !== undefined) {
    const f = r.failed as Record<string, unknown>
    const ok = typeof f === 'object' && f !== null && typeof f.message === 'string' && (f.step === undefined || (typeof f.step === 'string' && steps.has(f.step))) && Object.keys(f).every((k) => k === 'step' || k === 'message')
    if (!ok) throw new Error(`field 'failed' is ${JSON.stringify(r.failed)}; accepted: {step, message}`)
    failed = f.step === undefined ? { message: f.message as string } : { step: f.step as StepId, message: f.message as string }
  }
  if (r.finished !== undefined && typeof r.finished !== 'boolean') throw new Error(`field 'finished' is ${JSON.stringify(r.finished)}; accepted: true or false`)
  if (typeof r.cleanup !== 'boolean') throw new Error(`field 'cleanup' is ${JSON.stringify(r.cleanup)}; accepted: true or false`)
  if (typeof r.kubeconfig !== 'string' || !underRoots(r.kubeconfig, o.roots)) throw new Error(`field 'kubeconfig' names ${JSON.stringify(r.kubeconfig)}, which is not under the places the action writes to (${o.roots.join(', ')})`)
  o.named?.push(r.kubeconfig)
  if (JSON.stringify(sorted(r.paths)) !== JSON.stringify(sorted(o.paths))) throw new Error("field 'paths' is not this host's layout of the action's files")
  if (typeof r.runtime !== 'string' || !o.known.runtimes.includes(r.runtime)) throw new Error(`field 'runtime' is ${JSON.stringify(r.runtime)}; accepted: ${o.known.runtimes.join(', ')}`)
  if (typeof r.cni !== 'string' || !o.known.cnis.includes(r.cni)) throw new Error(`field 'cni' is ${JSON.stringify(r.cni)}; accepted: ${o.known.cnis.join(', ')}`)
  if (r.addons !== undefined && !(Array.isArray(r.addons) && r.addons.every((a) => typeof a === 'string' && o.known.addons.includes(a)))) {
    throw new Error(`field 'addons' is ${JSON.stringify(r.addons)}; accepted: a list of ${o.known.addons.join(', ') || 'no add-ons'}`)
  }
  // the steps' times, only ever reported (the diagnostics archive's timings)
  const timing = (t: unknown): boolean => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return false
    const v = t as Record<string, unknown>
    return Object.keys(v).length === 4 && typeof v.id === 'string' && steps.has(v.id) && (PHASES as readonly unknown[]).includes(v.phase) && Number.isFinite(v.start) && Number.isFinite(v.end)
  }
  if (r.timings !== undefined && !(Array.isArray(r.timings) && r.timings.every(timing))) throw new Error("field 'timings' is not a list of {id, phase, start, end}, each a step id, a phase and two numbers")
  const rec: LedgerRecord = { changes, completed: r.completed as StepId[], cleanup: r.cleanup, kubeconfig: r.kubeconfig, paths: o.paths, runtime: r.runtime as LedgerRecord['runtime'], cni: r.cni as LedgerRecord['cni'] }
  if (r.addons !== undefined) rec.addons = r.addons as string[]
  if (r.timings !== undefined) rec.timings = r.timings as StepTiming[]
  if (failed) rec.failed = failed
  if (r.finished !== undefined) rec.finished = r.finished
  return rec
}

/** Where a record's paths may lie on this host: writeRoots with the runtimes' and CNIs' own. */
export function recordRoots(paths: Paths, home: string): string[] {
  const plugins = [...Object.values(RUNTIMES), ...Object.values(CNIS)].flatMap((x) => x.hostRoots(paths))
  return writeRoots(paths, home, plugins)
}

export interface StateRecordOptions {
  paths: Paths
  home: string
  known: HostLedgerOptions['known']
  /** the cache backend's working directory: the only `cache.dir` a record may name */
  cacheDir: string
}

/**
 * The record the post step reads from the Actions state, through the host ledger's schema
 * and checks (parseHostRecord, symlinkEscape, this host's `paths`), and the two fields only
 * this job's own record has: `cache`, what the post step exports as root and saves, and
 * `diagnosticsArtifact`. The state is in the runner's environment, which earlier steps of
 * the job can add to (GITHUB_ENV): it is data from outside until it passes this.
 */
export async function parseStateRecord(raw: unknown, o: StateRecordOptions): Promise<LedgerRecord> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('is not a JSON object')
  const { cache, diagnosticsArtifact, ...rest } = raw as Record<string, unknown>
  const roots = recordRoots(o.paths, o.home)
  const named: string[] = []
  const r = parseHostRecord(rest, { paths: o.paths, known: o.known, roots, named })
  if (diagnosticsArtifact !== undefined) {
    if (typeof diagnosticsArtifact !== 'string' || !(DIAGNOSTICS_ARTIFACT_VALUES as readonly string[]).includes(diagnosticsArtifact)) {
      throw new Error(`field 'diagnosticsArtifact' is ${JSON.stringify(diagnosticsArtifact)}; accepted: ${DIAGNOSTICS_ARTIFACT_VALUES.join(', ')}`)
    }
    r.diagnosticsArtifact = diagnosticsArtifact as DiagnosticsArtifact
  }
  if (cache !== undefined) r.cache = parseCacheRecord(cache, o)
  const escape = await symlinkEscape(named, roots)
  if (escape) throw new Error(`names ${escape}, which a symbolic link takes outside the places the action writes to`)
  return r
}

/** What the post step saves: the entry's directory is the backend's, its images references, its store the runtime's data. */
function parseCacheRecord(raw: unknown, o: StateRecordOptions): CacheRecord {
  const bad = (what: string): never => {
    throw new Error(`field 'cache' ${what}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('is not an object')
  const c = raw as Record<string, unknown>
  const extra = Object.keys(c).filter((k) => !['dir', 'key', 'exact', 'images', 'runtime', 'store'].includes(k))
  if (extra.length) bad(`has field${extra.length > 1 ? 's' : ''} the action never writes: ${extra.join(', ')}`)
  if (c.dir !== o.cacheDir) bad(`names the directory ${JSON.stringify(c.dir)}; accepted: the cache's working directory ${o.cacheDir}`)
  if (typeof c.key !== 'string' || !/^kubeadm-single-node-[A-Za-z0-9._+-]{1,200}$/.test(c.key)) bad(`has the key ${JSON.stringify(c.key)}; accepted: a key the action makes (kubeadm-single-node-...)`)
  if (typeof c.exact !== 'boolean') bad(`has 'exact' ${JSON.stringify(c.exact)}; accepted: true or false`)
  if (!Array.isArray(c.images) || !c.images.every((i) => typeof i === 'string' && !i.startsWith('-') && isImageReference(i))) bad(`has 'images' ${JSON.stringify(c.images)}; accepted: a list of image references`)
  if (typeof c.runtime !== 'string' || !o.known.runtimes.includes(c.runtime)) bad(`has 'runtime' ${JSON.stringify(c.runtime)}; accepted: ${o.known.runtimes.join(', ')}`)
  const s = c.store as Record<string, unknown>
  const storeOk =
    typeof s === 'object' && s !== null && !Array.isArray(s) &&
    Object.keys(s).every((k) => k === 'own' || k === 'containerdMajor') &&
    (s.own === undefined || typeof s.own === 'boolean') &&
    (s.containerdMajor === undefined || (Number.isInteger(s.containerdMajor) && (s.containerdMajor as number) >= 1 && (s.containerdMajor as number) <= 9))
  if (!storeOk) bad(`has 'store' ${JSON.stringify(c.store)}; accepted: {own: true or false, containerdMajor: 1 to 9}`)
  return { dir: c.dir as string, key: c.key as string, exact: c.exact as boolean, images: c.images as string[], runtime: c.runtime as string, store: { ...(s as StoreRef) } }
}

const sorted = (v: unknown): unknown => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v)

/**
 * The first of `paths` reached through a symbolic link that leads outside `roots`: a link
 * below a root (root's /etc/kubernetes/x -> /etc) would carry a root file operation out of
 * the places the action writes to. The last part of a path may be a link: the undo replaces
 * or removes a link itself, never what it points to. A directory only root may search is
 * root's to fill: what cannot be read there is not a link a user planted.
 */
export async function symlinkEscape(paths: readonly string[], roots: readonly string[]): Promise<string | undefined> {
  for (const p of paths) {
    const root = roots.filter((r) => p === r || p.startsWith(`${r}/`)).sort((a, b) => b.length - a.length)[0]
    if (!root) return p
    const parts = p.slice(root.length).split('/').filter((x) => x)
    let at = root
    for (const part of parts.slice(0, -1)) {
      at = `${at}/${part}`
      const st = await lstat(at).catch(() => undefined)
      if (!st) break
      if (st.isSymbolicLink()) {
        const target = await realpath(at).catch(() => '')
        if (!underRoots(target, roots)) return `${p} (through ${at} -> ${target || 'nowhere'})`
      }
    }
  }
  return undefined
}

export function hostLedgerStore(o: HostLedgerOptions): LedgerStore {
  const { file, run } = o
  const dir = dirname(file)
  const stat = o.stat ?? hostStat(run)
  const roots = recordRoots(o.paths, o.home)
  const root = { privileged: true }
  const scratch = o.scratch ?? (process.env.RUNNER_TEMP || tmpdir())
  let current: LedgerRecord | undefined
  let dirReady = false

  async function writeNow(r: LedgerRecord): Promise<void> {
    if (!dirReady) {
      await run(['install', '-d', '-m', '0700', '-o', '0', '-g', '0', dir], root)
      dirReady = true
    }
    // what the post step of this job saves is the job's alone: never in the host's copy
    const kept = Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'cache' && k !== 'diagnosticsArtifact'))
    await mkdir(scratch, { recursive: true })
    const tmp = join(scratch, `ksn-ledger-${randomUUID()}`)
    await writeFile(tmp, JSON.stringify(kept, null, 2), { mode: 0o600 })
    try {
      // put in place as root beside the file, then renamed over it: a crash leaves the
      // previous record or this one, never half of one
      await run(['install', '-m', '0600', '-o', '0', '-g', '0', tmp, `${file}.tmp`], root)
      await run(['mv', '-fT', `${file}.tmp`, file], root)
    } finally {
      await rm(tmp, { force: true })
    }
  }

  // one write at a time; a save asked for while one waits joins it (it writes the latest)
  let queue: Promise<unknown> = Promise.resolve()
  let waiting: Promise<void> | undefined
  const flush = (): Promise<void> => {
    if (waiting) return waiting
    const mine = queue.then(() => {
      waiting = undefined
      return current ? writeNow(current) : undefined
    })
    waiting = mine
    queue = mine.catch(() => {})
    return mine
  }

  const distrust = (why: string): never => {
    throw new LedgerTrustError(file, why)
  }

  return {
    roots,
    async saveHead(head: RecordHead) {
      current = { ...head, changes: current?.changes ?? [] }
      await flush()
    },
    async saveChange(i, c) {
      if (!current) throw new Error(`the ledger's change ${i} came before its record`)
      current.changes = [...current.changes.slice(0, i), c]
      await flush()
    },
    async save(r) {
      current = { ...r, changes: [...r.changes] }
      await flush()
    },
    async load() {
      const d = await stat(dir)
      if (!d) return undefined
      if (d.type !== 'dir') distrust(`is in ${dir}, which is not a directory (${d.type})`)
      if (d.uid !== 0) distrust(`is in ${dir}, which is owned by uid ${d.uid}, not root`)
      if (d.mode & 0o022) distrust(`is in ${dir}, which group or others can write (mode ${d.mode.toString(8)})`)
      const f = await stat(file)
      if (!f) return undefined
      if (f.type !== 'file') distrust(`is not a regular file (${f.type})`)
      if (f.uid !== 0) distrust(`is owned by uid ${f.uid}, not root`)
      if (f.mode & 0o022) distrust(`can be written by group or others (mode ${f.mode.toString(8)})`)
      let text: string
      try {
        text = await readFile(file, 'utf8').catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EACCES') throw err
          return (await run(['cat', '--', file], root)).stdout
        })
      } catch (err) {
        return distrust(`cannot be read (${(err as Error).message})`)
      }
      let raw: unknown
      try {
        raw = JSON.parse(text)
      } catch (err) {
        return distrust(`is not JSON (${(err as Error).message}): it is damaged`)
      }
      const named: string[] = []
      let r: LedgerRecord
      try {
        r = parseHostRecord(raw, { paths: o.paths, known: o.known, roots, named })
      } catch (err) {
        return distrust(`does not hold a record this action writes: ${(err as Error).message}`)
      }
      const escape = await symlinkEscape(named, roots)
      if (escape) distrust(`names ${escape}, which a symbolic link takes outside the places the action writes to`)
      current = undefined
      return r
    },
    async clear() {
      await queue
      current = undefined
      await run(['rm', '-f', '--', file], root)
      // the directory is ours too; left where something else is in it
      await run(['rmdir', '--', dir], { ...root, allowFailure: true })
      dirReady = false
    }
  }
}
