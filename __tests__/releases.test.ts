// cni-version: latest, resolved through GitHub's Releases API (@actions/github's Octokit)
// against a loopback server that answers as api.github.com does: its release list, and its
// refusals (a used-up rate limit, a bad token, a missing repository), and a port nobody
// listens on for a network failure.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { prepare } from '../src/commands/prepare.js'
import { parseInputs, type Config } from '../src/inputs/parse.js'
import { latestRelease, PUBLIC_API, releaseApi, resolveCniVersion } from '../src/cnis/latest.js'
import { createRun } from '../src/host/exec.js'
import { pathsUnder } from '../src/host/paths.js'
import { renderPlan } from '../src/engine/describe.js'
import { serve, type Route, type TestServer } from './helpers/http.js'

const LIST = '/repos/projectcalico/calico/releases?per_page=100'
const FLANNEL_LIST = '/repos/flannel-io/flannel/releases?per_page=100'

const release = (tag: string, o: { draft?: boolean; prerelease?: boolean } = {}): object => ({ tag_name: tag, draft: o.draft ?? false, prerelease: o.prerelease ?? false })

/** Answers like the API; remembers each request's Authorization header. */
function api(status: number, body: unknown, headers: Record<string, string> = {}): { route: Route; auth: Array<string | undefined> } {
  const auth: Array<string | undefined> = []
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    auth.push(req.headers.authorization)
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
  }
  return { route, auth }
}

const config = (inputs: Record<string, string>): Config => parseInputs((n) => inputs[n] ?? '')

describe('cni-version: latest through the Releases API', () => {
  let server: TestServer
  const routes: Record<string, Route> = {}
  before(async () => {
    server = await serve(routes)
  })
  after(() => server.close())
  const at = (): { url: string; sendToken: boolean } => ({ url: server.url, sendToken: true })

  it("picks the highest release by semver, leaving out drafts, pre-releases and tags that are no version", async () => {
    // newest first by date, as the API lists them: an older line's patch after the newest minor
    const a = api(200, [release('v3.31.8'), release('v3.34.0-0.dev', { prerelease: true }), release('v3.35.0', { draft: true }), release('v3.33.1'), release('v3.33.0'), release('nightly'), release('v3.32.2')])
    routes[LIST] = a.route
    assert.equal(await latestRelease('projectcalico/calico', at(), 'ghs_token'), 'v3.33.1')
    assert.deepEqual(a.auth, ['token ghs_token'], 'the job token, as @actions/github sends it')
  })

  it('asks anonymously where the token would go to another server than the one that issued it', async () => {
    const a = api(200, [release('v0.29.0')])
    routes[FLANNEL_LIST] = a.route
    assert.equal(await latestRelease('flannel-io/flannel', { url: server.url, sendToken: false }, 'ghs_token'), 'v0.29.0')
    assert.deepEqual(a.auth, [undefined])
  })

  for (const status of [403, 429]) {
    it(`says the rate limit is used up (HTTP ${status}, x-ratelimit-remaining: 0), naming github-token and when it resets`, async () => {
      routes[LIST] = api(status, { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' }, {
        'x-ratelimit-limit': '1000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': '1000',
        'x-ratelimit-reset': '1795000000'
      }).route
      await assert.rejects(latestRelease('projectcalico/calico', at(), 'ghs_token'), (err: Error) => {
        assert.match(err.message, new RegExp(`^GitHub's API rate limit is used up for the token in input 'github-token' \\(HTTP ${status} from ${server.url}/repos/projectcalico/calico/releases, limit 1000 an hour; it resets at 2026-11-18T\\d\\d:\\d\\d:\\d\\d.000Z\\)`))
        assert.match(err.message, /Hint: give 'github-token' a token with requests left, or set an exact cni-version/)
        assert.equal(err.message.includes('ghs_token'), false)
        return true
      })
    })
  }

  it('tells a forbidden answer that is no rate limit from one that is', async () => {
    routes[LIST] = api(403, { message: 'Resource not accessible by integration' }, { 'x-ratelimit-remaining': '4999' }).route
    await assert.rejects(latestRelease('projectcalico/calico', at(), 't'), /GitHub's API answered HTTP 403 from .*: Resource not accessible by integration/)
  })

  it('says anonymous requests ran out, where no token was sent', async () => {
    routes[LIST] = api(403, { message: 'API rate limit exceeded for 20.1.2.3.' }, { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1795000000' }).route
    await assert.rejects(latestRelease('projectcalico/calico', { url: server.url, sendToken: false }, 't'), /rate limit is used up for anonymous requests from this address .*limit 60 an hour/)
  })

  it('names the token input when the token is refused, and the repository when it is missing', async () => {
    routes[LIST] = api(401, { message: 'Bad credentials' }).route
    await assert.rejects(latestRelease('projectcalico/calico', at(), 'bad'), /refused the token in input 'github-token': HTTP 401 .*Bad credentials.*check 'github-token'/)
    routes[LIST] = api(404, { message: 'Not Found' }).route
    await assert.rejects(latestRelease('projectcalico/calico', at(), 't'), /has no repository projectcalico\/calico \(HTTP 404/)
  })

  it('says so when the list has no release', async () => {
    routes[LIST] = api(200, [release('v3.34.0-rc1', { prerelease: true })]).route
    await assert.rejects(latestRelease('projectcalico/calico', at(), 't'), /lists no release with a version tag/)
  })

  it('says the API could not be reached on a network failure', async () => {
    const dead = await serve({})
    const url = dead.url
    await dead.close()
    await assert.rejects(latestRelease('projectcalico/calico', { url, sendToken: true }, 't'), (err: Error) => {
      assert.match(err.message, new RegExp(`^GitHub's API at ${url} could not be reached: .*refused the connection\\. Hint: set an exact cni-version`))
      return true
    })
  })

  it('resolves only when asked: the pinned and an exact release make no call', async () => {
    const a = api(200, [release('v9.9.9')])
    routes[LIST] = a.route
    const env = { GITHUB_API_URL: server.url, GITHUB_SERVER_URL: server.url }
    for (const c of [config({ cni: 'calico' }), config({ cni: 'calico', 'cni-version': 'v3.31.4' }), config({})]) {
      assert.equal(await resolveCniVersion(c, env), c)
    }
    assert.deepEqual(a.auth, [])
  })

  it("plans calico's newest release: the manifest from its tag, the images from the manifest, and a note", async () => {
    routes[LIST] = api(200, [release('v3.33.1'), release('v3.32.2')]).route
    const env = { GITHUB_API_URL: server.url, GITHUB_SERVER_URL: server.url }
    const c = config({ cni: 'calico', 'cni-version': 'latest', 'github-token': 'ghs_t', 'github-url': `${server.url}/gh`, 'kubernetes-version': 'v1.34.2' })
    const prepared = await prepare(c, createRun({ debug: () => {} }), pathsUnder('/nonexistent-root'), undefined, undefined, (cfg) => resolveCniVersion(cfg, env))
    assert.deepEqual(prepared.config.cniVersion, { kind: 'exact', version: 'v3.33.1', latest: true })
    assert.ok(prepared.plan.notes.some((n) => n.startsWith(`Input 'cni-version' is 'latest': calico v3.33.1, the newest release of projectcalico/calico (asked at ${server.url})`)))
    const text = renderPlan(prepared.plan.steps, prepared.plan.learned)
    assert.match(text, new RegExp(`GET ${server.url}/gh/projectcalico/calico/raw/v3\\.33\\.1/manifests/calico\\.yaml`))
    assert.match(text, /calico manifest \(v3\.33\.1 \(latest\)\)/)
    assert.deepEqual(prepared.plan.learned.cniImages, [], 'another release names its images in its manifest, read at run time')
    assert.equal(text.includes('ghs_t') || JSON.stringify(prepared.plan.learned).includes('ghs_t'), false, 'the plan never shows the token')
  })

  it('wraps a failed lookup in what was being resolved', async () => {
    routes[LIST] = api(401, { message: 'Bad credentials' }).route
    const c = config({ cni: 'calico', 'cni-version': 'latest', 'github-token': 'x' })
    await assert.rejects(resolveCniVersion(c, { GITHUB_API_URL: server.url, GITHUB_SERVER_URL: 'https://github.com' }), /Could not resolve cni-version 'latest' for calico \(projectcalico\/calico\): GitHub's API refused/)
  })
})

describe('which API answers, and whether the token goes there', () => {
  it("asks the job's own API where github-url is the job's server, github.com or a GitHub Enterprise Server", () => {
    assert.deepEqual(releaseApi('https://github.com', { GITHUB_API_URL: 'https://api.github.com', GITHUB_SERVER_URL: 'https://github.com' }), { url: 'https://api.github.com', sendToken: true })
    assert.deepEqual(releaseApi('https://ghes.example', { GITHUB_API_URL: 'https://ghes.example/api/v3/', GITHUB_SERVER_URL: 'https://ghes.example' }), { url: 'https://ghes.example/api/v3', sendToken: true })
  })

  it("asks github.com's API for a file mirror, with the token only where the job runs on github.com", () => {
    const mirror = 'https://files.m.daocloud.io/github.com'
    assert.deepEqual(releaseApi(mirror, { GITHUB_API_URL: 'https://api.github.com', GITHUB_SERVER_URL: 'https://github.com' }), { url: PUBLIC_API, sendToken: true })
    assert.deepEqual(releaseApi(mirror, { GITHUB_API_URL: 'https://ghes.example/api/v3', GITHUB_SERVER_URL: 'https://ghes.example' }), { url: PUBLIC_API, sendToken: false })
  })

  it("never sends a GitHub Enterprise Server's token to github.com", () => {
    assert.deepEqual(releaseApi('https://github.com', { GITHUB_API_URL: 'https://ghes.example/api/v3', GITHUB_SERVER_URL: 'https://ghes.example' }), { url: PUBLIC_API, sendToken: false })
  })

  it("outside Actions asks github.com's API, or the one GITHUB_API_URL names, with the token given", () => {
    assert.deepEqual(releaseApi('https://github.com', {}), { url: PUBLIC_API, sendToken: true })
    assert.deepEqual(releaseApi('https://github.com', { GITHUB_API_URL: 'http://127.0.0.1:9' }), { url: 'http://127.0.0.1:9', sendToken: true })
  })
})
