// Resolves `kubernetes-version` to an exact release against the release bucket
// (stable.txt, stable-1.X.txt). Never falls back silently to a hard-coded version.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import semver from 'semver'
import { networkCause } from '../host/download.js'
import type { VersionSpec } from './inputs.js'
import { OLDEST_MINOR } from './kubernetes.js'

/** GETs a URL and returns its body; throws HttpError for non-2xx answers. */
export type FetchText = (url: string) => Promise<string>

export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number
  ) {
    super(`GET ${url} answered HTTP ${status}`)
    this.name = 'HttpError'
  }
}

export const fetchText: FetchText = async (url) => {
  // kubernetes-release-url may be a copy of the bucket on this machine
  if (url.startsWith('file:')) {
    return readFile(fileURLToPath(url), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new HttpError(url, 404)
      throw err
    })
  }
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new HttpError(url, res.status)
  return res.text()
}

export function minorOf(version: string): number {
  const v = semver.parse(version)
  if (!v) throw new Error(`"${version}" is not a version`)
  return v.minor
}

export function describeSpec(spec: VersionSpec): string {
  switch (spec.kind) {
    case 'stable':
      return 'stable'
    case 'minor':
      return `1.${spec.minor}`
    case 'exact':
      return spec.version
  }
}

export async function resolveVersion(spec: VersionSpec, releaseUrl: string, get: FetchText = fetchText): Promise<string> {
  if (spec.kind === 'exact') return spec.version
  const marker = spec.kind === 'stable' ? 'stable.txt' : `stable-1.${spec.minor}.txt`
  const url = `${releaseUrl}/${marker}`
  let body: string
  try {
    body = await get(url)
  } catch (err) {
    const hint =
      err instanceof HttpError && err.status === 404
        ? spec.kind === 'minor'
          ? `Kubernetes 1.${spec.minor} has no release yet (or no longer a marker); pick a released minor or an exact version such as v1.34.2.`
          : 'the release bucket has no stable marker; set kubernetes-release-url to a mirror of dl.k8s.io/release.'
        : 'give an exact version (for example v1.34.2) to skip the lookup, or set kubernetes-release-url to a reachable mirror.'
    const why = err instanceof HttpError ? err.message : networkCause(err)
    throw new Error(`Could not resolve kubernetes-version '${describeSpec(spec)}' from ${url}: ${why}. Hint: ${hint}`, { cause: err })
  }
  const text = body.trim()
  const version = semver.valid(text)
  if (!version || !text.startsWith('v')) {
    throw new Error(
      `Could not resolve kubernetes-version '${describeSpec(spec)}': ${url} answered ${JSON.stringify(text.slice(0, 80))}, which is not a release such as v1.34.2. Is kubernetes-release-url a mirror of dl.k8s.io/release?`
    )
  }
  // a marker is a mirror's word: what it names must be a release this action could have been
  // asked for by name (only an exact kubernetes-version asks for a pre-release)
  const wrong = (why: string): Error =>
    new Error(
      `Could not resolve kubernetes-version '${describeSpec(spec)}': ${url} names ${text}, ${why}. Input 'kubernetes-release-url' (${releaseUrl}) must serve the release bucket's markers as dl.k8s.io/release does; accepted: a mirror whose ${marker} names a GA release v1.${OLDEST_MINOR}.0 or newer, or an exact kubernetes-version such as v1.34.2 to skip the lookup.`
    )
  const v = semver.parse(version)!
  if (v.prerelease.length > 0) throw wrong('a pre-release, where a marker names only GA releases')
  if (v.major !== 1 || v.minor < OLDEST_MINOR) throw wrong(`older than the oldest minor this action supports (1.${OLDEST_MINOR})`)
  if (spec.kind === 'minor' && v.minor !== spec.minor) throw wrong('another minor')
  return `v${version}`
}
