// Saving the cache entry after a successful run: the post step's first task (the command
// line's, at the end of `up`). Never fails the job: a cache that cannot be saved is a warning.
import { lstat, rm } from 'node:fs/promises'
import { entryLayout, writeManifest } from '../cache/entry.js'
import { mb } from '../cache/session.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import { refuseUntrustedLink } from '../host/links.js'
import type { CommandEnv } from './env.js'
import { isImageReference } from '../images/ref.js'
import { RUNTIMES } from '../runtimes/index.js'

export async function saveCache(record: LedgerRecord, env: CommandEnv): Promise<void> {
  const c = record.cache
  if (!c || !env.cache || !record.finished || record.failed) return
  if (c.exact) {
    env.io.info(`Cache: ${c.key} was restored whole; nothing new to save.`)
    return
  }
  const t0 = performance.now()
  const lines: string[] = []
  try {
    const archive = entryLayout(c.dir).images
    await rm(archive, { force: true })
    if (c.images.length > 0) {
      // the entry's directory is in the runner's temporary directory, the user's: root's
      // export and chown go through no link planted there (one to a root file would be
      // overwritten by the export, or handed to the user by the chown)
      await refuseUntrustedLink(archive, `export the cache entry's images to ${archive}`)
      // the record is data: the runtime named there builds its own export, of names that are
      // image references (none can pass for one of the command's options)
      const runtime = RUNTIMES[c.runtime]
      if (!runtime) throw new Error(`the record names a runtime the action does not have (${JSON.stringify(c.runtime)})`)
      const bad = c.images.filter((i) => typeof i !== 'string' || !isImageReference(i) || i.startsWith('-'))
      if (bad.length) throw new Error(`the record names ${JSON.stringify(bad)}, which are not image references`)
      await env.run(runtime.exportArgv(env.paths, c.store, archive, c.images), { privileged: true })
      // written by root through the runtime; packed by this process's user
      const uid = process.getuid?.()
      if (uid !== undefined && uid !== 0) {
        await refuseUntrustedLink(archive, `give ${archive} to uid ${uid}`)
        const st = await lstat(archive)
        if (!st.isFile()) throw new Error(`${archive} is not the regular file the export wrote; it is left as it is, root's`)
        // -h: a link put there after the look above is changed itself, never its target
        await env.run(['chown', '-h', `${uid}:${process.getgid?.() ?? uid}`, archive], { privileged: true })
      }
      lines.push(`exported ${c.images.length} images to ${archive}`)
    }
    const manifest = await writeManifest(c.dir, c.key, c.images)
    const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0)
    lines.push(...manifest.files.map((f) => `${f.path}: ${mb(f.bytes)}`))
    await env.cache.save(c.dir, c.key)
    lines.push(`saved to ${env.cache.describe} in ${((performance.now() - t0) / 1000).toFixed(1)}s`)
    env.io.block(`Cache: saved ${c.key} (${mb(bytes)})`, lines)
  } catch (err) {
    env.io.block('Cache: not saved', lines)
    env.io.warning(`The cache entry ${c.key} was not saved: ${(err as Error).message.split('\n')[0]}. The next run downloads and pulls everything again.`)
  }
}
