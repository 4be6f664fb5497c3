// One run's cache: restored before the downloads start, consulted by each download and by
// the preload, and described in the ledger record for the post step, which saves the entry.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Artifact, DownloadCache } from '../host/download.js'
import type { CacheBackend } from './backend.js'
import { downloadPath, entryLayout, type EntryManifest } from './entry.js'
import { checkEntry } from './entry.js'
import type { CacheKey } from './key.js'
import type { StoreRef } from '../runtimes/index.js'

export interface Restored {
  /** the entry's key: the exact one, or one found under a restore key */
  key: string
  exact: boolean
  bytes: number
  manifest: EntryManifest
}

/** What the post step needs to save the entry once the run has succeeded. */
export interface CacheRecord {
  dir: string
  key: string
  /** the exact entry was restored: nothing new to save */
  exact: boolean
  /** what the preload pulled, anonymously, to export (phases/images.ts, learned.cacheable) */
  images: string[]
  /** the runtime (a name in src/runtimes/index.ts) and its store, from which it builds the export: data, never a command */
  runtime: string
  store: StoreRef
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB`

export class CacheSession implements DownloadCache {
  restored?: Restored
  /** downloads taken from the entry, by name */
  readonly taken: string[] = []
  /** said as warnings: an entry that could not be used */
  readonly warnings: string[] = []

  constructor(
    readonly backend: CacheBackend,
    readonly dir: string,
    readonly key: CacheKey
  ) {}

  /** The restore step: a missing entry is a miss, a broken one a warning; neither fails the run. */
  async restore(log: (line: string) => void): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    let matched: string | undefined
    try {
      matched = await this.backend.restore(this.dir, this.key.key, this.key.restoreKeys)
    } catch (err) {
      return this.ignore(`The cache could not be restored from ${this.backend.describe} (${(err as Error).message})`)
    }
    if (!matched) {
      log(`no entry for ${this.key.key} or under ${this.key.restoreKeys.join(', ')}: everything is downloaded and pulled, and saved after a successful run`)
      return
    }
    const check = await checkEntry(this.dir)
    if (!check.ok) return this.ignore(`The cache entry ${matched} is damaged (${check.problem})`)
    this.restored = { key: matched, exact: matched === this.key.key, bytes: check.bytes, manifest: check.manifest }
    const downloads = check.manifest.files.filter((f) => f.path.startsWith('downloads/')).length
    log(
      `restored ${matched}${this.restored.exact ? '' : ' (another image set, same version: what it lacks is fetched, and a new entry saved)'}: ${mb(check.bytes)}, ${downloads} downloads, ${check.manifest.images.length} images`
    )
  }

  private async ignore(why: string): Promise<void> {
    this.warnings.push(`${why}; it was ignored, and everything is downloaded and pulled.`)
    this.restored = undefined
    await rm(this.dir, { recursive: true, force: true })
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
  }

  find(a: Artifact, fileName: string): string | undefined {
    const rel = `downloads/${a.name}/${fileName}`
    return this.restored?.manifest.files.some((f) => f.path === rel) ? downloadPath(this.dir, a.name, fileName) : undefined
  }

  used(a: Artifact): void {
    this.taken.push(a.name)
  }

  rejected(a: Artifact, why: string): void {
    this.warnings.push(`The cache entry's ${a.name} was not used: ${why}. It was downloaded instead.`)
  }

  async keep(a: Artifact, fileName: string, path: string): Promise<void> {
    if (this.restored?.exact) return // nothing will be saved
    const to = downloadPath(this.dir, a.name, fileName)
    await mkdir(dirname(to), { recursive: true })
    await copyFile(path, to)
  }

  /** the restored image archive, if the entry has one */
  imageArchive(): string | undefined {
    const r = this.restored
    return r && r.manifest.images.length > 0 && r.manifest.files.some((f) => f.path === 'images.tar') ? entryLayout(this.dir).images : undefined
  }

  /** one line for the log and the summary: what came from the cache, and what happens next */
  describe(): string {
    const r = this.restored
    if (!r) return `no usable entry for ${this.key.key}: everything was downloaded and pulled; the entry is saved after the job`
    const taken = this.taken.length ? [...this.taken].sort().join(', ') : 'no downloads'
    return `${r.exact ? 'restored' : 'restored, from another image set,'} ${r.key} (${mb(r.bytes)}): ${taken}, ${r.manifest.images.length} images${r.exact ? '' : '; a new entry is saved after the job'}`
  }

  record(images: string[], runtime: string, store: StoreRef): CacheRecord {
    return { dir: this.dir, key: this.key.key, exact: this.restored?.exact ?? false, images, runtime, store }
  }
}
