// What a cache entry holds, on disk: the verified downloads as they were published, one image
// archive exported from the runtime, and entry.json listing both. The manifest is what a
// restore checks first: a truncated or half-written entry fails here, before anything reads it.
import { readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ENTRY_FORMAT } from './key.js'

export interface EntryFile {
  /** relative to the entry's directory */
  path: string
  bytes: number
}

export interface EntryManifest {
  format: number
  key: string
  /** the images in images.tar, under the names the run asked for */
  images: string[]
  files: EntryFile[]
}

export function entryLayout(dir: string): { manifest: string; downloads: string; images: string } {
  return { manifest: join(dir, 'entry.json'), downloads: join(dir, 'downloads'), images: join(dir, 'images.tar') }
}

/** Where a download is kept in the entry: by its name and published file name, as fetched. */
export function downloadPath(dir: string, name: string, fileName: string): string {
  return join(entryLayout(dir).downloads, name, fileName)
}

/** Every regular file under `dir`, as relative paths with their sizes, entry.json excepted. */
export async function listFiles(dir: string): Promise<EntryFile[]> {
  const out: EntryFile[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) await walk(path)
      else if (e.isFile() && path !== 'entry.json') out.push({ path, bytes: (await stat(join(dir, path))).size })
    }
  }
  await walk('')
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

export async function writeManifest(dir: string, key: string, images: string[]): Promise<EntryManifest> {
  const manifest: EntryManifest = { format: ENTRY_FORMAT, key, images, files: await listFiles(dir) }
  await writeFile(entryLayout(dir).manifest, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 })
  return manifest
}

export type EntryCheck = { ok: true; manifest: EntryManifest; bytes: number } | { ok: false; problem: string }

/**
 * Reads entry.json and checks that each file it lists is there at its size. Contents are
 * checked later, by whoever uses them: downloads against their published checksums, images
 * by the runtime's import, which verifies every blob's digest.
 */
export async function checkEntry(dir: string): Promise<EntryCheck> {
  let manifest: EntryManifest
  try {
    manifest = JSON.parse(await readFile(entryLayout(dir).manifest, 'utf8')) as EntryManifest
  } catch (err) {
    return { ok: false, problem: `entry.json is missing or unreadable (${(err as Error).message})` }
  }
  if (manifest.format !== ENTRY_FORMAT || !Array.isArray(manifest.files) || !Array.isArray(manifest.images)) {
    return { ok: false, problem: `entry.json is not format ${ENTRY_FORMAT}` }
  }
  let bytes = 0
  for (const f of manifest.files) {
    if (typeof f.path !== 'string' || f.path.split('/').includes('..')) return { ok: false, problem: `entry.json lists a bad path ${JSON.stringify(f.path)}` }
    const size = await stat(join(dir, f.path)).then(
      (s) => s.size,
      () => undefined
    )
    if (size !== f.bytes) return { ok: false, problem: `${f.path} is ${size === undefined ? 'missing' : `${size} bytes, not ${f.bytes}`}` }
    bytes += size
  }
  return { ok: true, manifest, bytes }
}
