// The names an image tarball brings, read in this process from its index (a docker-save
// manifest.json, an OCI index.json) without extracting the layers: tar's 512-byte headers
// are read one by one and every other member is skipped by seeking past it. So a check
// before anything changes (offline: true) costs a few reads per archive, not a copy of
// hundreds of megabytes. A gzip-compressed tarball is read through gunzip, start to end.
import { open, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { normalizeImage } from './ref.js'

const BLOCK = 512
const INDEX_FILES = ['manifest.json', 'index.json'] as const
type IndexFile = (typeof INDEX_FILES)[number]

/** A source of bytes read in order: `read` returns exactly n bytes or fewer at the end. */
interface Source {
  read(n: number): Promise<Buffer>
  skip(n: number): Promise<void>
  close(): Promise<void>
}

function fileSource(fh: FileHandle): Source {
  let pos = 0
  return {
    async read(n) {
      const buf = Buffer.alloc(n)
      let got = 0
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, pos + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      pos += got
      return buf.subarray(0, got)
    },
    async skip(n) {
      pos += n
    },
    close: () => fh.close()
  }
}

function streamSource(path: string): Source {
  const stream = createReadStream(path).pipe(createGunzip())
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  let pending: Buffer = Buffer.alloc(0)
  let done = false
  const fill = async (n: number): Promise<void> => {
    const parts: Buffer[] = [pending]
    let have = pending.length
    while (have < n && !done) {
      const r = await it.next()
      if (r.done) done = true
      else {
        parts.push(r.value)
        have += r.value.length
      }
    }
    pending = Buffer.concat(parts)
  }
  return {
    async read(n) {
      await fill(n)
      const out = pending.subarray(0, n)
      pending = pending.subarray(out.length)
      return out
    },
    async skip(n) {
      while (n > 0) {
        await fill(Math.min(n, 1 << 20))
        if (pending.length === 0) return
        const k = Math.min(n, pending.length)
        pending = pending.subarray(k)
        n -= k
      }
    },
    async close() {
      stream.destroy()
    }
  }
}

/** A NUL-terminated field of a header. */
const str = (b: Buffer, start: number, len: number): string => {
  const f = b.subarray(start, start + len)
  const nul = f.indexOf(0)
  return f.subarray(0, nul === -1 ? f.length : nul).toString('utf8')
}

/** A size field: octal digits, or GNU's base-256 for sizes past 8 GiB. */
function size(b: Buffer): number {
  const f = b.subarray(124, 136)
  if (f[0] & 0x80) {
    let n = 0
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]
    return n
  }
  const text = str(b, 124, 12).trim()
  return text === '' ? 0 : parseInt(text, 8)
}

/** A pax extended header's `path` record, if it has one. */
function paxPath(body: string): string | undefined {
  for (const rec of body.split('\n')) {
    const m = /^\d+ path=(.*)$/s.exec(rec)
    if (m) return m[1]
  }
  return undefined
}

/**
 * The names an image tarball declares: RepoTags in a docker-save manifest.json, or the
 * name annotations of an OCI index.json. Read from the archive itself because ctr's import
 * output is a progress display that differs between versions.
 */
export function namesInArchiveIndex(file: 'manifest.json' | 'index.json', text: string): string[] {
  const json = JSON.parse(text)
  const raw =
    file === 'manifest.json'
      ? (json as Array<{ RepoTags?: string[] }>).flatMap((m) => m.RepoTags ?? [])
      : ((json.manifests ?? []) as Array<{ annotations?: Record<string, string> }>).flatMap((m) => {
          const a = m.annotations ?? {}
          const name = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']
          return name && name.includes('/') ? [name] : []
        })
  return [...new Set(raw.map(normalizeImage))]
}

/** The archive's index files by name (at its root, `./` or not), read without the rest. */
export async function readArchiveIndex(path: string): Promise<Partial<Record<IndexFile, string>>> {
  const fh = await open(path, 'r')
  const magic = (await fh.read(Buffer.alloc(2), 0, 2, 0)).buffer
  let src: Source
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    await fh.close()
    src = streamSource(path)
  } else src = fileSource(fh)
  const found: Partial<Record<IndexFile, string>> = {}
  try {
    let longName: string | undefined
    for (;;) {
      const h = await src.read(BLOCK)
      if (h.length < BLOCK || h.every((x) => x === 0)) break
      if (str(h, 257, 5) !== 'ustar' && !/^[0-7 \0]+$/.test(h.subarray(124, 136).toString('latin1'))) {
        throw new Error('not a tar archive')
      }
      const n = size(h)
      const padded = Math.ceil(n / BLOCK) * BLOCK
      const type = String.fromCharCode(h[156] || 0x30)
      if (type === 'x' || type === 'L') {
        const body = (await src.read(padded)).subarray(0, n).toString('utf8')
        longName = type === 'L' ? body.replace(/\0.*$/s, '') : (paxPath(body) ?? longName)
        continue
      }
      const prefix = str(h, 257, 6).startsWith('ustar') ? str(h, 345, 155) : ''
      const name = (longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))).replace(/^\.\//, '')
      longName = undefined
      const want = INDEX_FILES.find((f) => f === name)
      if (want && (type === '0' || type === '\0') && found[want] === undefined) {
        found[want] = (await src.read(padded)).subarray(0, n).toString('utf8')
        if (INDEX_FILES.every((f) => found[f] !== undefined)) break
      } else await src.skip(padded)
    }
  } finally {
    await src.close()
  }
  return found
}

/**
 * The normalized names an image tarball declares, as the import will bring them: what the
 * offline check and every store's import read. Throws for a file that is not an image archive.
 */
export async function archiveIndexNames(path: string): Promise<string[]> {
  let index: Partial<Record<IndexFile, string>>
  try {
    index = await readArchiveIndex(path)
  } catch (err) {
    throw new Error(`${path} could not be read as a tar archive (${(err as Error).message})`, { cause: err })
  }
  for (const f of INDEX_FILES) {
    const text = index[f]
    if (text !== undefined && text.trim() !== '') return namesInArchiveIndex(f, text)
  }
  throw new Error(`${path} is neither a docker-save nor an OCI image archive (no manifest.json or index.json in it)`)
}
