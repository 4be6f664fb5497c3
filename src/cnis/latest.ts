// cni-version: latest, resolved to a release tag through GitHub's Releases API with the
// job's token (input github-token), before the plan is made, so that the dry run and the run
// name the same release. Only asked for: the pinned release needs no call at all.
import { getOctokit } from '@actions/github'
import { GitHub } from '@actions/github/lib/utils'
import semver from 'semver'
import type { Config } from '../config/inputs.js'
import { networkCause } from '../host/download.js'
import { CNIS } from './index.js'

export const PUBLIC_API = 'https://api.github.com'

export interface ReleaseApi {
  /** the REST API's root, e.g. https://api.github.com or https://ghes.example/api/v3 */
  url: string
  /** the token goes only to the API of the server that issued it */
  sendToken: boolean
}

const origin = (u: string): string | undefined => {
  try {
    return new URL(u).origin
  } catch {
    return undefined
  }
}

/**
 * Where to ask. The releases come from where github-url points: when that is the job's own
 * server (GITHUB_SERVER_URL: github.com, or a GitHub Enterprise Server), its API is
 * GITHUB_API_URL, which the runner sets; otherwise github-url is github.com itself or a file
 * mirror of it (mirrors serve downloads, not the API), and github.com's public API answers.
 * The job's token is sent only to the API of the server that issued it: a GitHub Enterprise
 * Server's token means nothing to api.github.com, which is then asked anonymously.
 */
export function releaseApi(githubUrl: string, env: NodeJS.ProcessEnv): ReleaseApi {
  const api = env.GITHUB_API_URL?.replace(/\/+$/, '') || undefined
  const server = env.GITHUB_SERVER_URL
  if (api && (server === undefined || origin(server) === origin(githubUrl))) return { url: api, sendToken: true }
  return { url: PUBLIC_API, sendToken: api === undefined || origin(api) === origin(PUBLIC_API) }
}

export type LatestRelease = (repo: string, api: ReleaseApi, token: string) => Promise<string>

/**
 * The highest release of `repo` by semver among its 100 newest, drafts and pre-releases left
 * out. Not /releases/latest: that is whichever release was published last or marked so, and
 * projects that patch older minors (Calico does) may publish an older line's patch after the
 * newest minor.
 */
export const latestRelease: LatestRelease = async (repo, api, token) => {
  const [owner, name] = repo.split('/')
  const options = { baseUrl: api.url, request: { signal: AbortSignal.timeout(30_000) } }
  const octokit = api.sendToken ? getOctokit(token, options) : new GitHub(options)
  const where = `${api.url}/repos/${repo}/releases`
  const fix = "set an exact cni-version (such as the pinned one) to skip the lookup"
  let releases: Array<{ tag_name: string; draft: boolean; prerelease: boolean }>
  try {
    releases = (await octokit.rest.repos.listReleases({ owner, repo: name, per_page: 100 })).data
  } catch (err) {
    const e = err as { status?: number; response?: { headers: Record<string, string | number | undefined> }; message: string }
    // Octokit wraps fetch's TypeError, whose own cause says what the network did
    if (!e.response) throw new Error(`GitHub's API at ${api.url} could not be reached: ${networkCause((err as { cause?: unknown }).cause ?? err)}. Hint: ${fix}.`, { cause: err })
    const h = e.response.headers
    const who = api.sendToken ? "the token in input 'github-token'" : `anonymous requests from this address (a token is sent only to ${process.env.GITHUB_API_URL ?? 'the API of the server that issued it'})`
    if ((e.status === 403 || e.status === 429) && (String(h['x-ratelimit-remaining']) === '0' || h['retry-after'] !== undefined)) {
      const reset = Number(h['x-ratelimit-reset'])
      const when = Number.isFinite(reset) && reset > 0 ? `; it resets at ${new Date(reset * 1000).toISOString()}` : h['retry-after'] !== undefined ? `; retry after ${h['retry-after']} s` : ''
      throw new Error(
        `GitHub's API rate limit is used up for ${who} (HTTP ${e.status} from ${where}${h['x-ratelimit-limit'] !== undefined ? `, limit ${h['x-ratelimit-limit']} an hour` : ''}${when}). Hint: give 'github-token' a token with requests left, or ${fix}.`,
        { cause: err }
      )
    }
    if (e.status === 401) throw new Error(`GitHub's API refused ${who}: HTTP 401 from ${where} (${e.message}). Hint: check 'github-token' (the default, \${{ github.token }}, is the job's own), or ${fix}.`, { cause: err })
    if (e.status === 404) throw new Error(`GitHub's API at ${api.url} has no repository ${repo} (HTTP 404 from ${where}). Hint: ${fix}.`, { cause: err })
    throw new Error(`GitHub's API answered HTTP ${e.status} from ${where}: ${e.message}. Hint: ${fix}.`, { cause: err })
  }
  const tags = releases
    .filter((r) => !r.draft && !r.prerelease && typeof r.tag_name === 'string' && semver.valid(r.tag_name) && semver.prerelease(r.tag_name) === null)
    .map((r) => r.tag_name)
  if (tags.length === 0) throw new Error(`${where} lists no release with a version tag such as v1.2.3. Hint: ${fix}.`)
  return tags.sort(semver.rcompare)[0]
}

/**
 * The config with cni-version 'latest' replaced by the release it names today, and a note
 * saying which; any other config as it is, without a call.
 */
export async function resolveCniVersion(config: Config, env: NodeJS.ProcessEnv = process.env, lookup: LatestRelease = latestRelease): Promise<Config> {
  if (config.cniVersion.kind !== 'latest') return config
  const release = CNIS[config.cni].release
  if (!release) throw new Error(`cni '${config.cni}' installs no release: cni-version must be empty`)
  const api = releaseApi(config.githubUrl, env)
  let tag: string
  try {
    tag = await lookup(release.repo, api, config.githubToken)
  } catch (err) {
    throw new Error(`Could not resolve cni-version 'latest' for ${config.cni} (${release.repo}): ${(err as Error).message}`, { cause: err })
  }
  const v = tag.startsWith('v') ? tag : `v${tag}`
  return {
    ...config,
    cniVersion: { kind: 'exact', version: v, latest: true },
    notes: [...config.notes, `Input 'cni-version' is 'latest': ${config.cni} ${v}, the newest release of ${release.repo} (asked at ${api.url}${api.sendToken ? '' : ', anonymously'}); the pinned ${release.pinned} is what the action is tested with.`]
  }
}
