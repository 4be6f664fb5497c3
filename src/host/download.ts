// Downloads (in ranges, ./ranged.ts; or copies from a file:// URL), each verified against
// its published or pinned SHA-256 before anything uses it, and kept in @actions/tool-cache.
// A mismatch deletes the file and installs nothing.
import { createHash, randomUUID } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { isIP } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { access, copyFile, mkdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tc from '@actions/tool-cache'
import ipaddr from 'ipaddr.js'
import { rangedDownload, type RangedOptions } from './ranged.js'

export interface Artifact {
  /** short name for logs: kubeadm, crictl, cni-plugins */
  name: string
  url: string
  /** the published checksum file: a bare digest or `digest  filename` lines (for a pinned
   * download, what a mirror on this machine must hold beside the file) */
  checksumUrl: string
  /** the upstream release's digest, pinned in the source (config/pins.ts, cri-dockerd's
   * release.ts): it wins over the checksum file of any mirror but one on this machine
   * (file://, loopback), the user's own */
  pinned?: string
  /** where the pinned digest was taken from, for logs and errors */
  pinSource?: string
  /** the input whose URL it comes from, for errors that say what to change */
  input: 'kubernetes-release-url' | 'github-url'
}

/**
 * Downloads kept between runs (src/cache/). A kept copy is used only when it matches the
 * digest published now, so a restored entry is never trusted on its own word.
 */
export interface DownloadCache {
  /** a kept copy of this download, not yet verified */
  find(a: Artifact, fileName: string): string | undefined
  /** the kept copy matched and was used */
  used(a: Artifact): void
  /** the kept copy did not match */
  rejected(a: Artifact, why: string): void
  /** a verified download, to keep for the next run */
  keep(a: Artifact, fileName: string, path: string): Promise<void>
}

/**
 * Whether a URL is served by this machine: a file:// URL, or http(s) to a loopback address
 * (127.0.0.0/8, ::1, localhost). What `offline: true` accepts for every download.
 */
export function isLocalUrl(url: string): boolean {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return false
  }
  if (u.protocol === 'file:') return u.hostname === '' || u.hostname === 'localhost'
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '0:0:0:0:0:0:0:1'
}

/**
 * Fetches a URL to a new file of its own (the caller removes it): a file:// URL is copied,
 * so that the original is never moved into the tool cache or deleted; anything else is
 * downloaded in ranges over a few connections (./ranged.ts), with retries.
 */
export async function fetchToFile(url: string, inOrder?: RangedOptions['inOrder']): Promise<string> {
  const dir = process.env.RUNNER_TEMP || tmpdir()
  await mkdir(dir, { recursive: true })
  const dest = join(dir, randomUUID())
  try {
    if (url.startsWith('file:')) await copyFile(fileURLToPath(url), dest)
    else await rangedDownload(url, dest, { inOrder })
  } catch (err) {
    await rm(dest, { force: true })
    throw err
  }
  return dest
}

const lookups = new Map<string, Promise<string | undefined>>()

/**
 * Why `url`'s host cannot be reached by name, or undefined when it resolves (or is an IP).
 * Asked once per host and run: without it, a runner without network spends half a minute in
 * the tool cache's retries before it says "getaddrinfo ENOTFOUND".
 */
export function unresolvable(url: string): Promise<string | undefined> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) || host === 'localhost' || url.startsWith('file:')) return Promise.resolve(undefined)
  let p = lookups.get(host)
  if (!p) {
    p = lookup(host).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => `${host} did not resolve (${err.code ?? err.message}): this runner has no DNS answer for it`
    )
    lookups.set(host, p)
  }
  return p
}

/** "fetch failed" says nothing: the network cause under it, in words. */
export function networkCause(err: unknown): string {
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause
  const code = cause?.code
  const where = (cause as { hostname?: string; address?: string } | undefined)?.hostname ?? (cause as { address?: string } | undefined)?.address
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${where ?? 'the host'} did not resolve (${code})`
  if (code === 'ECONNREFUSED') return `${where ?? 'the host'} refused the connection`
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || (err as Error).name === 'TimeoutError') return `no answer in time${where ? ` from ${where}` : ''}`
  return (err as Error).message + (cause?.message ? ` (${cause.message})` : '')
}

/**
 * Whether a download failed because the file (or its checksum file) is not there at all: an
 * HTTP 404 from the tool cache's downloader, or a missing file behind a file:// URL.
 */
export function isNotPublished(err: unknown): boolean {
  for (let e = err as { httpStatusCode?: number; code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.httpStatusCode === 404 || e.code === 'ENOENT') return true
  }
  return false
}

export class ChecksumError extends Error {
  constructor(
    readonly artifact: Artifact,
    readonly expected: string,
    readonly actual: string
  ) {
    const source = pinnedFor(artifact) ? `the action pins ${expected} (from ${artifact.pinSource ?? 'its source'})` : `${artifact.checksumUrl} publishes ${expected}`
    super(
      `Checksum mismatch for ${artifact.name}: ${artifact.url} has SHA-256 ${actual}, but ${source}. The file was deleted and nothing was installed; if a mirror serves these files, check that it is complete and current.`
    )
    this.name = 'ChecksumError'
  }
}

/** Finds the digest for `fileName` in a checksum file: bare hex, or sha256sum's lines. */
export function parseChecksum(text: string, fileName: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  for (const line of lines) {
    const [digest, name] = line.split(/\s+/)
    if (!/^[0-9a-fA-F]{64}$/.test(digest)) continue
    if (name === undefined || name.replace(/^\*/, '').split('/').pop() === fileName) return digest.toLowerCase()
  }
  throw new Error(`no SHA-256 for ${fileName} in the checksum file (it begins ${JSON.stringify(text.slice(0, 80))})`)
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The published file name of a download, which its checksum file names. */
export function fileNameOf(artifact: Artifact): string {
  return new URL(artifact.url).pathname.split('/').pop() ?? artifact.name
}

/** A URL on this machine: a file:// URL, or http(s) to a loopback address. */
export function onThisMachine(url: string): boolean {
  const u = new URL(url)
  if (u.protocol === 'file:') return true
  const h = u.hostname.replace(/^\[|\]$/g, '')
  return h === 'localhost' || (ipaddr.isValid(h) && ipaddr.process(h).range() === 'loopback')
}

/** The digest pinned for this download, where one applies (see Artifact.pinned). */
export function pinnedFor(artifact: Artifact): string | undefined {
  return artifact.pinned && !onThisMachine(artifact.url) ? artifact.pinned : undefined
}

/** The dry run's line for the check a download gets. */
export function verifyLine(artifact: Artifact): string {
  const pinned = pinnedFor(artifact)
  // the checksum file is named too: a mirror on this machine (an offline one) must hold it
  if (pinned) return `verify SHA-256 against ${artifact.checksumUrl} only on a mirror on this machine; from any other, the pinned ${pinned}`
  return `verify SHA-256 against ${artifact.checksumUrl}`
}

/** Where the digest comes from, for logs: the pinned one, or the published checksum file. */
function digestSource(artifact: Artifact): string {
  return pinnedFor(artifact) ? `the pinned SHA-256 (from ${artifact.pinSource ?? 'the action'})` : artifact.checksumUrl
}

/** The digest the download must have: pinned in the source, or read from the published checksum file. */
async function expectedDigest(artifact: Artifact, fileName: string): Promise<string> {
  const pinned = pinnedFor(artifact)
  if (pinned) return pinned.toLowerCase()
  try {
    const sumPath = await fetchToFile(artifact.checksumUrl)
    try {
      return parseChecksum(await readFile(sumPath, 'utf8'), fileName)
    } finally {
      await rm(sumPath, { force: true })
    }
  } catch (err) {
    throw new Error(`Could not read the published checksum of ${artifact.name} from ${artifact.checksumUrl}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The download's SHA-256 and its gunzipped bytes (in `to`), computed from its bytes in order
 * while later ranges are still on the way, so that neither costs a pass after the download.
 * Nothing in `to` is used before the digest is checked; a body that is no gzip leaves no `to`.
 */
function gunzipAlong(to: string): { take: (chunk: Buffer) => Promise<void>; done: () => Promise<string>; abort: () => void } {
  const hash = createHash('sha256')
  const gunzip = createGunzip()
  let broken = false
  const written = pipeline(gunzip, createWriteStream(to)).catch(async () => {
    broken = true
    await rm(to, { force: true })
  })
  return {
    take: async (chunk) => {
      hash.update(chunk)
      if (!broken && !gunzip.write(chunk)) await Promise.race([once(gunzip, 'drain'), written])
    },
    done: async () => {
      gunzip.end()
      await written
      return hash.digest('hex')
    },
    abort: () => void gunzip.destroy(new Error('the download failed'))
  }
}

/**
 * A verified copy of the download, in a temporary file the caller removes: from `cache` when
 * it has one matching the digest (published now, or pinned), else fetched (and then kept in `cache`).
 */
export async function downloadVerified(artifact: Artifact, cache?: DownloadCache, log: (l: string) => void = () => {}, o: { gunzipTo?: string } = {}): Promise<string> {
  const fileName = fileNameOf(artifact)
  const dns = await unresolvable(pinnedFor(artifact) ? artifact.url : artifact.checksumUrl)
  if (dns) throw new Error(`Could not download ${artifact.name} from ${artifact.url}: ${dns}. Set ${artifact.input} to a mirror this runner can reach, or give the runner network.`)
  const expected = await expectedDigest(artifact, fileName)
  const kept = cache?.find(artifact, fileName)
  if (kept) {
    const actual = await sha256File(kept).catch((err: Error) => err.message)
    if (actual === expected) {
      // a copy, as a download would be: the callers remove it once it is in the tool cache
      const copy = join(process.env.RUNNER_TEMP || tmpdir(), `ksn-cached-${randomUUID()}`)
      await copyFile(kept, copy)
      cache!.used(artifact)
      log(`${artifact.name} from the cache entry, verified against ${digestSource(artifact)}`)
      return copy
    }
    cache!.rejected(artifact, `its SHA-256 is ${actual}, but ${digestSource(artifact)} says ${expected}`)
  }
  let path: string
  let actual: string
  const unpack = o.gunzipTo && !artifact.url.startsWith('file:') ? gunzipAlong(o.gunzipTo) : undefined
  try {
    if (unpack) {
      path = await fetchToFile(artifact.url, unpack.take)
      actual = await unpack.done()
    } else {
      path = await fetchToFile(artifact.url)
      actual = await sha256File(path)
    }
  } catch (err) {
    unpack?.abort()
    if (o.gunzipTo) await rm(o.gunzipTo, { force: true })
    throw new Error(`Could not download ${artifact.name} from ${artifact.url}: ${(err as Error).message}`, { cause: err })
  }
  if (actual !== expected) {
    await rm(path, { force: true })
    if (o.gunzipTo) await rm(o.gunzipTo, { force: true })
    throw new ChecksumError(artifact, expected, actual)
  }
  log(`verified ${artifact.name} against ${digestSource(artifact)}`)
  await cache?.keep(artifact, fileName, path)
  return path
}

export interface ToolKey {
  /** the tool cache's name for it: kubeadm, crictl, cni-plugins */
  tool: string
  /** vX.Y.Z or X.Y.Z */
  version: string
  arch: string
}

const cacheVersion = (v: string): string => v.replace(/^v/, '')

/**
 * A file in the runner's tool cache, used only if it has the digest the download must have
 * (published now, or pinned): on a self-hosted runner anything may have written there, and
 * the binary goes to /usr/local/bin as root. One that does not match is left for the download
 * to replace, and said in the log.
 */
async function verifiedToolCacheHit(artifact: Artifact, key: ToolKey, file: string, log: (l: string) => void): Promise<string | undefined> {
  const hit = tc.find(key.tool, cacheVersion(key.version), key.arch)
  if (!hit) return undefined
  const path = join(hit, file)
  const expected = await expectedDigest(artifact, fileNameOf(artifact))
  const actual = await sha256File(path).catch(() => undefined)
  if (actual === expected) {
    log(`${key.tool} ${key.version} from the tool cache, verified against ${digestSource(artifact)}`)
    return path
  }
  log(
    `warning: the tool cache's ${key.tool} ${key.version} (${path}) ${actual ? `has SHA-256 ${actual}, but ${digestSource(artifact)} says ${expected}` : 'is not a file the action cached'}: not used, downloaded again`
  )
  return undefined
}

/**
 * A verified single binary from the runner's tool cache, downloading (and verifying) it
 * first when absent or unverified. Returns the binary's path.
 */
export async function cachedBinary(artifact: Artifact, key: ToolKey, log: (l: string) => void = () => {}, cache?: DownloadCache): Promise<string> {
  const hit = await verifiedToolCacheHit(artifact, key, key.tool, log)
  if (hit) {
    // a self-hosted runner's tool cache: the entry saved for other runners still gets the file
    await cache?.keep(artifact, fileNameOf(artifact), hit)
    return hit
  }
  const file = await downloadVerified(artifact, cache, log)
  const dir = await tc.cacheFile(file, key.tool, key.tool, cacheVersion(key.version), key.arch)
  await rm(file, { force: true })
  return `${dir}/${key.tool}`
}

/**
 * A verified tarball, extracted into a new temporary directory, whose path it returns. The
 * tool cache keeps the tarball as published, not what it unpacks to, so that a hit is checked
 * against the digest like a download; unpacking again costs about a second.
 */
export async function cachedTarball(artifact: Artifact, key: ToolKey, log: (l: string) => void = () => {}, cache?: DownloadCache): Promise<string> {
  const fileName = fileNameOf(artifact)
  let tarball = await verifiedToolCacheHit(artifact, key, fileName, log)
  if (tarball) {
    await cache?.keep(artifact, fileName, tarball)
  } else {
    // gunzipped while it downloads (see gunzipAlong): what is left is tar's own, quick work
    const unpacked = join(process.env.RUNNER_TEMP || tmpdir(), `ksn-${randomUUID()}.tar`)
    const file = await downloadVerified(artifact, cache, log, { gunzipTo: /\.(tar\.gz|tgz)$/.test(fileName) ? unpacked : undefined })
    const dir = await tc.cacheFile(file, fileName, key.tool, cacheVersion(key.version), key.arch)
    await rm(file, { force: true })
    tarball = join(dir, fileName)
    if (await access(unpacked).then(() => true, () => false)) {
      try {
        return await tc.extractTar(unpacked, undefined, 'x')
      } finally {
        await rm(unpacked, { force: true })
      }
    }
  }
  return tc.extractTar(tarball)
}
