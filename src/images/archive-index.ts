// The names an image tarball brings, read in this process from its index (a docker-save
// manifest.json, an OCI index.json) without extracting the layers: tar's 512-byte headers
// are read one by one and every other member is skipped by seeking past it. So a check
// before anything changes (offline: true) costs a few reads per archive, not a copy of
// hundreds of megabytes. A gzip-compressed tarball is read through gunzip, start to end.
import { open, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { createGunzip } from 'node:zlib'
import { normalizeImage } from './ref.js'

const BLOCK = 512
const INDEX_FILES = ['manifest.json', 'index.json'] as const
type IndexFile = (typeof INDEX_FILES)[number]
/** what readArchiveIndex returns: the index files' text, and whether an oci-layout member is there */
export type ArchiveIndex = Partial<Record<IndexFile, string>> & { ociLayout?: boolean }

/*
 * The names are read as containerd's importer reads the archive, so that what is checked is
 * what `ctr images import` brings (containerd v2.3.4 core/images/archive/importer.go,
 * ImportIndex; images/archive/importer.go in 1.6/1.7 is the same loop):
 * - each member's name is path.Clean(hdr.Name), so `./index.json`, `a/../index.json` and
 *   `index.json/` are all index.json;
 * - only regular files (TypeReg, TypeRegA) are read; a later member of a name replaces an
 *   earlier one (`blobs[hdrName] = ...`, and manifest.json is decoded again), so the LAST
 *   copy counts, where this reader once kept the first;
 * - when an oci-layout member is there, the archive is an OCI layout and the images are
 *   index.json's; manifest.json is ignored. Without it, manifest.json's RepoTags name them.
 * - Go's encoding/json matches a struct's field names case-insensitively (`repotags`,
 *   `Manifests`), and merges a repeated object key into the same map.
 * Rather than copy every one of these rules (and each version's), an archive where they
 * could make a difference is refused: one that holds a member name twice, one whose
 * manifest.json and index.json (both there) name different images, and an index whose JSON
 * repeats a key (in any letter case). What is left has one reading, containerd's and ours.
 */

/** A member's name as Go's path.Clean leaves it (trailing slashes dropped, `./` and `..` resolved). */
export function cleanMemberName(name: string): string {
  const n = posix.normalize(name)
  return n.length > 1 ? n.replace(/\/+$/, '') || '/' : n
}

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

/**
 * A pax extended header's records, read by their length fields as Go's parsePAX reads them
 * (a value may hold a newline); a malformed record is refused.
 */
function paxRecords(body: Buffer): Map<string, string> {
  const out = new Map<string, string>()
  let at = 0
  while (at < body.length) {
    const sp = body.indexOf(0x20, at)
    const len = sp === -1 ? NaN : Number(body.subarray(at, sp).toString('latin1'))
    if (!/^[1-9][0-9]*$/.test(sp === -1 ? '' : body.subarray(at, sp).toString('latin1')) || at + len > body.length || body[at + len - 1] !== 0x0a) {
      throw new Error('a pax header has a malformed record')
    }
    const rec = body.subarray(sp + 1, at + len - 1).toString('utf8')
    const eq = rec.indexOf('=')
    if (eq <= 0) throw new Error('a pax header has a malformed record')
    out.set(rec.slice(0, eq), rec.slice(eq + 1))
    at += len
  }
  return out
}

/** Go's case folding of a JSON key, near enough: `ſ` is an s and the Kelvin sign a k, as in Go. */
const fold = (k: string): string => k.toUpperCase().toLowerCase()

/**
 * Refuses JSON in which one object holds the same key twice, letter case aside: JSON.parse
 * keeps the last, Go's decoder matches `RepoTags` and `repotags` to one field and merges a
 * repeated map, so the two would read different names. `text` is valid JSON (parsed first).
 */
function refuseRepeatedKeys(text: string): void {
  // per open container: the keys seen (an object) or null (an array); whether a key comes next
  const stack: Array<Set<string> | null> = []
  let keyNext = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '{') {
      stack.push(new Set())
      keyNext = true
    } else if (c === '[') {
      stack.push(null)
      keyNext = false
    } else if (c === '}' || c === ']') {
      stack.pop()
      keyNext = false
    } else if (c === ',') keyNext = stack.at(-1) instanceof Set
    else if (c === '"') {
      const start = i
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++
      const keys = stack.at(-1)
      if (keyNext && keys) {
        const key = fold(JSON.parse(text.slice(start, i + 1)) as string)
        if (keys.has(key)) throw new Error(`an object has the key ${JSON.stringify(key)} twice`)
        keys.add(key)
      }
      keyNext = false
    }
  }
}

/** The value of a Go struct field `name` in a decoded object: its key in any letter case. */
function field(o: unknown, name: string): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
  const key = Object.keys(o).find((k) => fold(k) === name.toLowerCase())
  return key === undefined ? undefined : (o as Record<string, unknown>)[key]
}

const list = (v: unknown, what: string): unknown[] => {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new Error(`${what} is not a list`)
  return v
}

/**
 * The names an image tarball declares: RepoTags in a docker-save manifest.json, or the
 * name annotations of an OCI index.json. Read from the archive itself because ctr's import
 * output is a progress display that differs between versions. Field names are matched in
 * any letter case, as containerd's Go decoder matches them; JSON that repeats a key is refused.
 */
export function namesInArchiveIndex(file: 'manifest.json' | 'index.json', text: string): string[] {
  const json: unknown = JSON.parse(text)
  refuseRepeatedKeys(text)
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string') throw new Error(`${what} is not a string`)
    return v
  }
  const raw =
    file === 'manifest.json'
      ? list(json, 'manifest.json').flatMap((m) => list(field(m, 'RepoTags'), 'RepoTags').map((t) => str(t, 'a RepoTags entry')))
      : list(field(json, 'manifests'), 'manifests').flatMap((m) => {
          // annotations is a Go map: its keys are matched exactly
          const a = field(m, 'annotations')
          if (a === undefined || a === null) return []
          if (typeof a !== 'object' || Array.isArray(a)) throw new Error('annotations is not an object')
          const get = (k: string): unknown => (Object.hasOwn(a, k) ? (a as Record<string, unknown>)[k] : undefined)
          const name = get('io.containerd.image.name') || get('org.opencontainers.image.ref.name')
          if (name === undefined || name === '') return []
          const n = str(name, 'an image name annotation')
          return n.includes('/') ? [n] : []
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
export async function readArchiveIndex(path: string, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<ArchiveIndex> {
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
  const found: ArchiveIndex = {}
  // the body of a member, read whole: only the index files and pax/long-name headers, each bounded
  const body = async (n: number, what: string): Promise<Buffer> => {
    if (n > limits.member) throw new Error(`${what} is ${n} bytes, more than the ${limits.member} the action reads of it`)
    const padded = Math.ceil(n / BLOCK) * BLOCK
    const b = await src.read(padded)
    if (b.length < n) throw new Error(`it ends inside ${what} (truncated)`)
    return b.subarray(0, n)
  }
  try {
    // meta headers apply to the next member only; a GNU long name wins over a pax path, as in
    // Go's reader (tar.Reader.Next: mergePAX, then gnuLongName)
    let paxName: string | undefined
    let longName: string | undefined
    // each member name seen (a digest: a name may be as long as the member bound)
    const seen = new Set<string>()
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
      const type = String.fromCharCode(h[156])
      if (type === 'x') {
        // the last pax header before a member is the one that applies (Go replaces, not merges)
        const recs = paxRecords(await body(n, 'a pax header'))
        if ([...recs.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw new Error('it has a sparse member, which no image archive has (and which Go renames)')
        paxName = recs.get('path')
        continue
      }
      if (type === 'L' || type === 'K') {
        const text = (await body(n, 'a GNU long name')).toString('utf8').replace(/\0.*$/s, '')
        if (type === 'L') longName = text
        continue
      }
      // a pax global header is returned as an entry of its own, which the importer skips
      if (type === 'g') {
        await src.skip(padded)
        continue
      }
      // ustar (and pax) headers have a prefix field; GNU's ("ustar  ") holds times there, and
      // star's prefix is 131 bytes (Go's reader tells them apart the same way)
      const ustar = h.subarray(257, 263).toString('latin1') === 'ustar\0'
      const star = h.subarray(508, 512).toString('latin1') === 'tar\0'
      const prefix = ustar ? str(h, 345, star ? 131 : 155) : ''
      const raw = longName ?? paxName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))
      longName = paxName = undefined
      const name = cleanMemberName(raw)
      if (type === 'S') throw new Error(`it has a sparse member (${JSON.stringify(name)}), which no image archive has`)
      if (type !== '5') {
        const key = createHash('sha256').update(name).digest('base64')
        if (seen.has(key)) throw new Error(`it holds the member ${JSON.stringify(name.slice(0, 200))} twice (containerd's import would take the last copy)`)
        seen.add(key)
      }
      const regular = type === '0' || type === '\0'
      const want = INDEX_FILES.find((f) => f === name)
      if (want && regular) found[want] = (await body(n, want)).toString('utf8')
      else {
        if (name === 'oci-layout' && regular) found.ociLayout = true
        await src.skip(padded)
      }
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
  let index: ArchiveIndex
  try {
    index = await readArchiveIndex(path, limits)
  } catch (err) {
    throw new Error(`${input}: ${path} could not be read as a tar archive (${(err as Error).message})`, { cause: err })
  }
  return namesOfIndex(index, path, input)
}

/**
 * The names an archive's index files declare. Where it has both a manifest.json and an
 * index.json, containerd takes index.json (with an oci-layout) or manifest.json (without
 * one, or with one it does not read): the two must name the same images, or the archive is
 * refused, whichever containerd would take. `ctr images export` and docker save (25 and
 * later) write both, naming the same images.
 */
export function namesOfIndex(index: ArchiveIndex, path: string, input: string): string[] {
  const names: Partial<Record<IndexFile, string[]>> = {}
  for (const f of INDEX_FILES) {
    const text = index[f]
    if (text === undefined || text.trim() === '') continue
    try {
      names[f] = namesInArchiveIndex(f, text)
    } catch (err) {
      throw new Error(`${input}: ${path} has a ${f} that is not an image index (${(err as Error).message})`, { cause: err })
    }
  }
  const docker = names['manifest.json']
  const oci = names['index.json']
  if (docker && oci) {
    const a = [...docker].sort()
    const b = [...oci].sort()
    if (a.length !== b.length || a.some((n, i) => n !== b[i])) {
      throw new Error(
        `${input}: ${path} is refused: its manifest.json names ${a.join(', ') || 'no image'}, but its index.json (what containerd imports when an oci-layout is there${index.ociLayout ? ', as it is' : ''}) names ${b.join(', ') || 'no image'}`
      )
    }
  }
  const found = index.ociLayout ? (oci ?? docker) : (docker ?? oci)
  if (found) return found
  throw new Error(`${input}: ${path} is neither a docker-save nor an OCI image archive (no manifest.json or index.json in it)`)
}
