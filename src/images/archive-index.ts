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

/**
 * How far the reader goes before it gives up. An archive is a file the workflow or a restored
 * cache entry hands us: a crafted one (a negative or huge size field, endless headers, a gzip
 * bomb, a giant manifest.json) must end in an error, never a loop or a heap blown up.
 */
export interface ArchiveLimits {
  /** tar headers read, pax and GNU long-name headers included */
  headers: number
  /** bytes inflated by gunzip (a plain tar is sought through, not read, and bounded by its size) */
  bytes: number
  /** the largest manifest.json or index.json parsed, and the largest pax or long-name body */
  member: number
  /** milliseconds before the read is abandoned */
  ms: number
}

/**
 * An image archive holds a few hundred members (a layer, a config and a manifest per image);
 * its index is a few kilobytes per image. A gzipped docker-save archive has its manifest.json
 * last, so all of it is inflated: the byte bound (32 GiB of tar) is far above an image set a
 * job preloads (kubeadm's images are about 200 MB gzipped), and the time bound (3 minutes)
 * lets gunzip (hundreds of MB/s) get through that on a slow runner, and no further.
 */
export const ARCHIVE_LIMITS: ArchiveLimits = { headers: 100_000, bytes: 32 * 2 ** 30, member: 16 * 2 ** 20, ms: 3 * 60_000 }

class Bounded {
  #used = 0
  readonly #deadline: number
  constructor(readonly limits: ArchiveLimits) {
    this.#deadline = Date.now() + limits.ms
  }
  /** counts `n` more bytes read; throws past a bound */
  take(n: number): void {
    this.#used += n
    if (this.#used > this.limits.bytes) throw new Error(`it holds more than ${this.limits.bytes} bytes, more than an image archive the action reads`)
    this.clock()
  }
  clock(): void {
    if (Date.now() > this.#deadline) throw new Error(`reading its index took longer than ${this.limits.ms / 1000}s`)
  }
}

/** A source of bytes read in order: `read` returns exactly n bytes or fewer at the end. */
interface Source {
  read(n: number): Promise<Buffer>
  skip(n: number): Promise<void>
  close(): Promise<void>
  /** bytes left, where known (a plain file); a member that claims more is refused */
  left?(): number
}

function fileSource(fh: FileHandle, fileSize: number, bound: Bounded): Source {
  let pos = 0
  return {
    async read(n) {
      bound.take(n)
      const buf = Buffer.alloc(Math.min(n, Math.max(0, fileSize - pos)))
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      pos += got
      return buf.subarray(0, got)
    },
    // a seek costs nothing, however far: the file's size and the header bound limit this reading
    async skip(n) {
      bound.clock()
      pos += n
    },
    left: () => fileSize - pos,
    close: () => fh.close()
  }
}

function streamSource(path: string, bound: Bounded): Source {
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
        bound.take(r.value.length)
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

/**
 * A size field: octal digits (POSIX ustar: padded with spaces or NULs), or GNU's base-256 for
 * sizes past 8 GiB (high bit set). Anything else is refused: a '-' that parseInt would read
 * as a negative size sent the reader backwards forever. A base-256 value that is negative
 * (0xff first) or past what a number holds exactly is refused too; so is any size past the
 * byte bound.
 */
function size(b: Buffer, limits: ArchiveLimits): number {
  const f = b.subarray(124, 136)
  let n: number
  if (f[0] & 0x80) {
    if (f[0] !== 0x80) throw new Error('a member has a negative base-256 size field')
    n = 0
    for (let i = 1; i < f.length; i++) {
      n = n * 256 + f[i]
      if (n > Number.MAX_SAFE_INTEGER) throw new Error('a member has a base-256 size field too large to trust')
    }
  } else {
    const text = f.toString('latin1')
    if (!/^[ \0]*[0-7]*[ \0]*$/.test(text)) throw new Error(`a member has the size field ${JSON.stringify(text.replace(/\0+$/, ''))}, which is not octal digits`)
    const digits = text.replace(/[ \0]/g, '')
    n = digits === '' ? 0 : parseInt(digits, 8)
  }
  if (n > limits.bytes) throw new Error(`a member claims ${n} bytes, more than an image archive the action reads (${limits.bytes})`)
  return n
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

/**
 * Whether a header's checksum (bytes 148-155: the sum of its bytes, that field counted as
 * spaces) holds; summed unsigned as POSIX says, or signed as some old tars did.
 */
function checksumOk(h: Buffer): boolean {
  const field = str(h, 148, 8).trim()
  if (!/^[0-7]+$/.test(field)) return false
  let sum = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]
    sum += b
    signed += b > 127 ? b - 256 : b
  }
  const want = parseInt(field, 8)
  return want === sum || want === signed
}

/**
 * The archive's index files by name (at its root, `./` or not), read without the rest, within
 * `limits`. Throws for anything that is not a well-formed tar (or gzipped tar) archive.
 */
export async function readArchiveIndex(path: string, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<Partial<Record<IndexFile, string>>> {
  const bound = new Bounded(limits)
  const fh = await open(path, 'r')
  let src: Source
  try {
    const magic = (await fh.read(Buffer.alloc(2), 0, 2, 0)).buffer
    if (magic[0] === 0x1f && magic[1] === 0x8b) {
      await fh.close()
      src = streamSource(path, bound)
    } else src = fileSource(fh, (await fh.stat()).size, bound)
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
  const found: Partial<Record<IndexFile, string>> = {}
  // the body of a member, read whole: only the index files and pax/long-name headers, each bounded
  const body = async (n: number, what: string): Promise<Buffer> => {
    if (n > limits.member) throw new Error(`${what} is ${n} bytes, more than the ${limits.member} the action reads of it`)
    const padded = Math.ceil(n / BLOCK) * BLOCK
    const b = await src.read(padded)
    if (b.length < n) throw new Error(`it ends inside ${what} (truncated)`)
    return b.subarray(0, n)
  }
  try {
    let longName: string | undefined
    for (let headers = 0; ; headers++) {
      if (headers >= limits.headers) throw new Error(`it has more than ${limits.headers} members, more than an image archive holds`)
      bound.clock()
      const h = await src.read(BLOCK)
      // an archive may end without its two zero blocks, but never inside a header
      if (h.length === 0 || h.every((x) => x === 0)) break
      if (h.length < BLOCK) throw new Error('it ends inside a header (truncated)')
      if (!checksumOk(h)) throw new Error(headers === 0 ? 'not a tar archive' : `header ${headers + 1} has a wrong checksum (damaged, or not a tar archive)`)
      const n = size(h, limits)
      const padded = Math.ceil(n / BLOCK) * BLOCK
      if (src.left && n > src.left()) throw new Error(`a member claims ${n} bytes, but only ${src.left()} are left in the file (truncated)`)
      const type = String.fromCharCode(h[156] || 0x30)
      if (type === 'x' || type === 'L') {
        const text = (await body(n, type === 'x' ? 'a pax header' : 'a GNU long name')).toString('utf8')
        longName = type === 'L' ? text.replace(/\0.*$/s, '') : (paxPath(text) ?? longName)
        continue
      }
      const prefix = str(h, 257, 6).startsWith('ustar') ? str(h, 345, 155) : ''
      const name = (longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))).replace(/^\.\//, '')
      longName = undefined
      const want = INDEX_FILES.find((f) => f === name)
      if (want && (type === '0' || type === '\0') && found[want] === undefined) {
        found[want] = (await body(n, want)).toString('utf8')
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
 * offline check and every store's import read. Throws for a file that is not an image archive,
 * or one past the reader's bounds; `input` (the input or the cache entry that named the file)
 * begins the message.
 */
export async function archiveIndexNames(path: string, input = 'image-archives', limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<string[]> {
  let index: Partial<Record<IndexFile, string>>
  try {
    index = await readArchiveIndex(path, limits)
  } catch (err) {
    throw new Error(`${input}: ${path} could not be read as a tar archive (${(err as Error).message})`, { cause: err })
  }
  for (const f of INDEX_FILES) {
    const text = index[f]
    if (text === undefined || text.trim() === '') continue
    try {
      return namesInArchiveIndex(f, text)
    } catch (err) {
      throw new Error(`${input}: ${path} has a ${f} that is not an image index (${(err as Error).message})`, { cause: err })
    }
  }
  throw new Error(`${input}: ${path} is neither a docker-save nor an OCI image archive (no manifest.json or index.json in it)`)
}
