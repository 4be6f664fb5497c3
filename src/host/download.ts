// Downloads through @actions/tool-cache, each verified against its published SHA-256
// before anything uses it. A mismatch deletes the file and installs nothing.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import * as tc from '@actions/tool-cache'

export interface Artifact {
  /** short name for logs: kubeadm, crictl, cni-plugins */
  name: string
  url: string
  /** the published checksum file: a bare digest or `digest  filename` lines */
  checksumUrl: string
}

export class ChecksumError extends Error {
  constructor(
    readonly artifact: Artifact,
    readonly expected: string,
    readonly actual: string
  ) {
    super(
      `Checksum mismatch for ${artifact.name}: ${artifact.url} has SHA-256 ${actual}, but ${artifact.checksumUrl} publishes ${expected}. The file was deleted and nothing was installed; if a mirror serves these files, check that it is complete and current.`
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

export async function downloadVerified(artifact: Artifact): Promise<string> {
  const fileName = new URL(artifact.url).pathname.split('/').pop() ?? artifact.name
  let expected: string
  try {
    const sumPath = await tc.downloadTool(artifact.checksumUrl)
    try {
      expected = parseChecksum(await readFile(sumPath, 'utf8'), fileName)
    } finally {
      await rm(sumPath, { force: true })
    }
  } catch (err) {
    throw new Error(`Could not read the published checksum of ${artifact.name} from ${artifact.checksumUrl}: ${(err as Error).message}`, { cause: err })
  }
  let path: string
  try {
    path = await tc.downloadTool(artifact.url)
  } catch (err) {
    throw new Error(`Could not download ${artifact.name} from ${artifact.url}: ${(err as Error).message}`, { cause: err })
  }
  const actual = await sha256File(path)
  if (actual !== expected) {
    await rm(path, { force: true })
    throw new ChecksumError(artifact, expected, actual)
  }
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
 * A verified single binary from the runner's tool cache, downloading (and verifying) it
 * first when absent. Only verified files enter the cache. Returns the binary's path.
 */
export async function cachedBinary(artifact: Artifact, key: ToolKey, log: (l: string) => void = () => {}): Promise<string> {
  const hit = tc.find(key.tool, cacheVersion(key.version), key.arch)
  if (hit) {
    log(`${key.tool} ${key.version} from the tool cache`)
    return `${hit}/${key.tool}`
  }
  const file = await downloadVerified(artifact)
  log(`verified ${artifact.name} against ${artifact.checksumUrl}`)
  const dir = await tc.cacheFile(file, key.tool, key.tool, cacheVersion(key.version), key.arch)
  await rm(file, { force: true })
  return `${dir}/${key.tool}`
}

/** A verified tarball, extracted, from the tool cache (or downloaded, verified, extracted and cached). Returns its directory. */
export async function cachedTarball(artifact: Artifact, key: ToolKey, log: (l: string) => void = () => {}): Promise<string> {
  const hit = tc.find(key.tool, cacheVersion(key.version), key.arch)
  if (hit) {
    log(`${key.tool} ${key.version} from the tool cache`)
    return hit
  }
  const file = await downloadVerified(artifact)
  log(`verified ${artifact.name} against ${artifact.checksumUrl}`)
  const extracted = await tc.extractTar(file)
  await rm(file, { force: true })
  const dir = await tc.cacheDir(extracted, key.tool, cacheVersion(key.version), key.arch)
  await rm(extracted, { recursive: true, force: true })
  return dir
}
