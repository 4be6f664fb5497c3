import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseVersionSpec } from '../src/inputs/parse.js'
import { resolveVersion } from '../src/config/versions.js'
import { serve, type TestServer } from './helpers/http.js'

describe('version resolution against a release bucket', () => {
  let server: TestServer
  before(async () => {
    server = await serve({
      '/release/stable.txt': { body: 'v1.35.1\n' },
      '/release/stable-1.34.txt': { body: 'v1.34.3' },
      '/release/stable-1.33.txt': { body: '<html>captive portal</html>' },
      '/release/stable-1.32.txt': { body: 'v1.31.9' },
      '/release/stable-1.31.txt': { status: 500, body: 'oops' }
    })
  })
  after(() => server.close())
  const resolve = (spec: string) => resolveVersion(parseVersionSpec(spec), `${server.url}/release`)

  it('resolves stable and a minor to what the markers say', async () => {
    assert.equal(await resolve('stable'), 'v1.35.1')
    assert.equal(await resolve('1.34'), 'v1.34.3')
  })

  it('does not ask the network for an exact version', async () => {
    const before = server.hits.length
    assert.equal(await resolve('1.34.2'), 'v1.34.2')
    assert.equal(server.hits.length, before)
    assert.equal(await resolveVersion(parseVersionSpec('v1.30.1'), 'http://127.0.0.1:1/unreachable'), 'v1.30.1')
  })

  it('explains a minor with no release (404)', async () => {
    await assert.rejects(resolve('1.99'), (err: Error) => {
      assert.match(err.message, /Could not resolve kubernetes-version '1\.99'/)
      assert.match(err.message, /HTTP 404/)
      assert.match(err.message, /has no release yet/)
      return true
    })
  })

  it('refuses a body that is not a version', async () => {
    await assert.rejects(resolve('1.33'), /answered "<html>captive portal<\/html>", which is not a release/)
  })

  it('refuses a marker that names another minor', async () => {
    await assert.rejects(resolve('1.32'), /names v1\.31\.9, another minor/)
  })

  it("refuses a marker that names a pre-release or a minor older than the action's table, naming kubernetes-release-url", async () => {
    const mirror = await serve({
      '/old/stable.txt': { body: 'v1.20.0\n' },
      '/pre/stable.txt': { body: 'v1.38.0-rc.1\n' },
      '/pre/stable-1.38.txt': { body: 'v1.38.0-beta.0' },
      '/ga/stable.txt': { body: 'v1.38.0' }
    })
    try {
      await assert.rejects(resolveVersion({ kind: 'stable' }, `${mirror.url}/old`), (err: Error) => {
        assert.match(err.message, /stable\.txt names v1\.20\.0, older than the oldest minor this action supports \(1\.28\)/)
        assert.match(err.message, /Input 'kubernetes-release-url' \(http:\/\/127\.0\.0\.1:\d+\/old\)/)
        assert.match(err.message, /accepted: a mirror whose stable\.txt names a GA release v1\.28\.0 or newer, or an exact kubernetes-version/)
        return true
      })
      await assert.rejects(resolveVersion({ kind: 'stable' }, `${mirror.url}/pre`), /names v1\.38\.0-rc\.1, a pre-release, where a marker names only GA releases/)
      await assert.rejects(resolveVersion({ kind: 'minor', minor: 38 }, `${mirror.url}/pre`), /stable-1\.38\.txt names v1\.38\.0-beta\.0, a pre-release/)
      // a GA minor newer than the table is a release like any other: its rules are the plan's business
      assert.equal(await resolveVersion({ kind: 'stable' }, `${mirror.url}/ga`), 'v1.38.0')
      // only an exact version asks for a pre-release, and it is taken as given
      assert.equal(await resolveVersion(parseVersionSpec('v1.38.0-rc.1'), `${mirror.url}/pre`), 'v1.38.0-rc.1')
    } finally {
      await mirror.close()
    }
  })

  it('reports server errors and an unreachable bucket with what to do', async () => {
    await assert.rejects(resolve('1.31'), /HTTP 500.*give an exact version/s)
    const closed = await serve({})
    await closed.close()
    await assert.rejects(resolveVersion({ kind: 'stable' }, closed.url), /Could not resolve kubernetes-version 'stable' from http:\/\/127\.0\.0\.1:\d+\/stable\.txt: 127\.0\.0\.1 refused the connection\..*kubernetes-release-url/s)
    // without network: the host that did not resolve, and the input that avoids the lookup
    await assert.rejects(resolveVersion({ kind: 'stable' }, 'https://dl.example.invalid/release'), /dl\.example\.invalid did not resolve \((ENOTFOUND|EAI_AGAIN)\)\. Hint: give an exact version/)
  })
})
