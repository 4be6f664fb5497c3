// The waits every phase shares: a deadline, and what was last seen when it passes.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, it } from 'node:test'
import { httpStatus, waitUntil } from '../src/kube/wait.js'

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

describe('waitUntil', () => {
  it("says, at the deadline, the URL nothing answered on and why, not fetch's bare 'fetch failed'", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/`
    await assert.rejects(
      waitUntil('nginx to answer', Date.now() + 300, async () => ((await httpStatus(url)) === 200 ? true : undefined), { firstDelayMs: 50 }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`Last seen: GET ${url.replace(/[./]/g, '\\$&')}: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+`))
        assert.doesNotMatch(err.message, /fetch failed/)
        return true
      }
    )
  })

  it('returns the first value the check gives, and what was observed last otherwise', async () => {
    let n = 0
    assert.equal(await waitUntil('a third try', Date.now() + 5000, async (observe) => (observe(`try ${++n}`), n === 3 ? 'done' : undefined), { firstDelayMs: 1 }), 'done')
    await assert.rejects(
      waitUntil('never', Date.now() + 100, async (observe) => (observe('still 503'), undefined), { firstDelayMs: 10 }),
      /Last seen: still 503/
    )
  })
})
