// Downloads in byte ranges over a few connections (src/host/ranged.ts), against a loopback
// server that answers ranges as a CDN does, or ignores them, or fails in the ways a CDN can.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fetchToFile, isNotPublished } from '../src/host/download.js'
import { HttpStatusError, rangedDownload } from '../src/host/ranged.js'

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void

/** a server whose behaviour each test sets; counts requests and the most in flight at once */
async function server(): Promise<{ url: string; on: (h: Handler) => void; stats: { requests: number; ranges: string[]; peak: number }; close: () => Promise<void> }> {
  let handler: Handler = (_q, res) => res.writeHead(500).end()
  const stats = { requests: 0, ranges: [] as string[], peak: 0 }
  let inFlight = 0
  const s = createServer((req, res) => {
    stats.requests++
    stats.ranges.push(String(req.headers.range ?? ''))
    inFlight++
    stats.peak = Math.max(stats.peak, inFlight)
    res.on('close', () => inFlight--)
    // a little latency, so that connections overlap as they would over a network
    setTimeout(() => handler(req, res, stats.requests), 5)
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(s.address() as { port: number }).port}`,
    on: (h) => {
      handler = h
      stats.requests = 0
      stats.ranges = []
      stats.peak = 0
    },
    stats,
    close: () => new Promise((r) => s.close(() => r()))
  }
}

/** answers ranges of `body` as a CDN does */
const ranges =
  (body: Buffer): Handler =>
  (req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m) return void res.writeHead(200, { 'content-length': body.length }).end(body)
    const from = Number(m[1])
    const to = Math.min(Number(m[2]), body.length - 1)
    res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${body.length}` }).end(body.subarray(from, to + 1))
  }

describe('downloads in ranges over a few connections', () => {
  let srv: Awaited<ReturnType<typeof server>>
  let dir: string
  const body = randomBytes(5 * 1024 * 1024 + 12345)
  const R = 512 * 1024
  before(async () => {
    srv = await server()
    dir = await mkdtemp(join(tmpdir(), 'ksn-ranged-'))
  })
  after(async () => {
    await srv.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('asks for every range once, keeps at most the given connections busy, and writes the file exactly', async () => {
    srv.on(ranges(body))
    const dest = join(dir, 'a')
    assert.equal(await rangedDownload(`${srv.url}/f`, dest, { rangeBytes: R, connections: 4 }), body.length)
    assert.ok((await readFile(dest)).equals(body))
    const n = Math.ceil(body.length / R)
    assert.equal(srv.stats.requests, n)
    assert.deepEqual(new Set(srv.stats.ranges).size, n, 'no range asked twice')
    assert.ok(srv.stats.peak > 1 && srv.stats.peak <= 4, `peak ${srv.stats.peak} requests at once`)
  })

  it('hands the bytes on in order while later ranges are still arriving, out of order', async () => {
    const ok = ranges(body)
    // the first ranges answer last: what comes early waits for what comes before it
    srv.on((req, res, n) => setTimeout(() => ok(req, res, n), n <= 2 ? 60 : 0))
    const got: Buffer[] = []
    await rangedDownload(`${srv.url}/f`, join(dir, 'g'), { rangeBytes: R, connections: 4, inOrder: (chunk) => void got.push(chunk) })
    assert.ok(Buffer.concat(got).equals(body), 'every byte once, in order')
    assert.ok(got.length > 1, 'handed on range by range, not at the end in one piece')
  })

  it('reads a server that ignores ranges in one piece', async () => {
    srv.on((_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body))
    const dest = join(dir, 'b')
    await rangedDownload(`${srv.url}/f`, dest, { rangeBytes: R })
    assert.ok((await readFile(dest)).equals(body))
    assert.equal(srv.stats.requests, 1)
  })

  it('a file smaller than one range is one request', async () => {
    const small = Buffer.from('a checksum file\n')
    srv.on(ranges(small))
    const dest = join(dir, 'c')
    await rangedDownload(`${srv.url}/f`, dest, { rangeBytes: R })
    assert.equal(await readFile(dest, 'utf8'), 'a checksum file\n')
    assert.equal(srv.stats.requests, 1)
  })

  it('a 404 is the answer, not tried again, and reads as not published', async () => {
    srv.on((_req, res) => res.writeHead(404).end('no'))
    const err = await rangedDownload(`${srv.url}/f`, join(dir, 'd'), { backoffMs: 1 }).catch((e: unknown) => e)
    assert.ok(err instanceof HttpStatusError && err.httpStatusCode === 404, String(err))
    assert.ok(isNotPublished(err))
    assert.equal(srv.stats.requests, 1)
  })

  it('tries a 503, a cut body and a reset again, and gets the file', async () => {
    const ok = ranges(body)
    srv.on((req, res, n) => {
      if (n === 2) return void res.writeHead(503).end()
      // a body cut short: the length says more than comes
      if (n === 4) return void (res.writeHead(206, { 'content-length': R, 'content-range': `bytes ${R}-${2 * R - 1}/${body.length}` }), res.end(body.subarray(R, R + 100)))
      if (n === 6) return void req.socket.destroy()
      ok(req, res, n)
    })
    const dest = join(dir, 'e')
    await rangedDownload(`${srv.url}/f`, dest, { rangeBytes: R, connections: 1, backoffMs: 1 })
    assert.ok((await readFile(dest)).equals(body))
    assert.equal(srv.stats.requests, Math.ceil(body.length / R) + 3)
  })

  it('refuses to stitch a file that changed between ranges', async () => {
    const other = randomBytes(body.length + 1)
    const first = ranges(body)
    const second = ranges(other)
    srv.on((req, res, n) => (n === 1 ? first : second)(req, res, n))
    await assert.rejects(rangedDownload(`${srv.url}/f`, join(dir, 'f'), { rangeBytes: R, attempts: 1 }), /asked for bytes \d+-\d+ of \d+, got 206 bytes/)
  })

  it('fetchToFile leaves no partial file behind when a download fails', async () => {
    srv.on((_req, res) => res.writeHead(404).end())
    const temp = await mkdtemp(join(dir, 'temp-'))
    const saved = process.env.RUNNER_TEMP
    process.env.RUNNER_TEMP = temp
    try {
      await assert.rejects(fetchToFile(`${srv.url}/missing`), HttpStatusError)
      assert.deepEqual(await readdir(temp), [])
    } finally {
      process.env.RUNNER_TEMP = saved
    }
  })
})
