// Downloads over several connections at once. A CDN (dl.k8s.io, GitHub's release assets)
// serves each connection at what one TCP flow sustains, well under a runner's link; the node
// tarball (about 90 MB) on one connection was the longest fetch of a run, finishing after the
// images (bench:fetch). Byte ranges of one file on a few kept-alive connections take the
// link's share instead, as @actions/cache's downloads do. A server that ignores ranges (200)
// is read in one piece. @actions/http-client, like the tool cache's downloader, follows
// redirects and the runner's proxy settings (https_proxy, no_proxy).
import { open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpClient, type HttpClientResponse } from '@actions/http-client'

/** a range: large enough that a request turn costs little against its bytes, small enough that a 90 MB file keeps six connections busy */
export const RANGE_BYTES = 8 * 1024 * 1024
export const RANGE_CONNECTIONS = 6

/** An HTTP status that is the answer, not a failure to retry (404: not published). */
export class HttpStatusError extends Error {
  constructor(
    readonly url: string,
    readonly httpStatusCode: number
  ) {
    super(`${url} answered HTTP ${httpStatusCode}`)
    this.name = 'HttpStatusError'
  }
}

export interface RangedOptions {
  /**
   * Handed the file's bytes in order, as soon as they are contiguous, while later ranges are
   * still on the way (a hash, a gunzip). The download does not wait for it: what it has not
   * taken yet waits in memory, so that the link is never held back by a slower consumer.
   */
  inOrder?: (chunk: Buffer) => Promise<void> | void
  rangeBytes?: number
  connections?: number
  /** tries per request; a connection reset or a 5xx, 408 or 429 is tried again */
  attempts?: number
  backoffMs?: number
}

const retryable = (status: number): boolean => status >= 500 || status === 408 || status === 429

/** `bytes A-B/TOTAL` */
function contentRange(res: HttpClientResponse): { from: number; to: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.message.headers['content-range'] ?? ''))
  return m ? { from: Number(m[1]), to: Number(m[2]), total: Number(m[3]) } : undefined
}

/**
 * Downloads `url` into `dest` (created or truncated), in ranges over up to `connections`
 * connections when the server answers ranges. Returns the bytes written.
 */
export async function rangedDownload(url: string, dest: string, o: RangedOptions = {}): Promise<number> {
  const rangeBytes = o.rangeBytes ?? RANGE_BYTES
  const connections = o.connections ?? RANGE_CONNECTIONS
  const attempts = o.attempts ?? 3
  const backoffMs = o.backoffMs ?? 1000
  const client = new HttpClient('kubeadm-single-node', [], { allowRetries: false, keepAlive: true, maxSockets: connections, socketTimeout: 60_000 })
  const fh = await open(dest, 'w')
  // ranges done out of order wait here until the bytes before them are handed on
  const waiting = new Map<number, Buffer>()
  let next = 0
  let handing: Promise<void> = Promise.resolve()
  const deliver = (from: number, bytes: Buffer): Promise<void> => {
    waiting.set(from, bytes)
    handing = handing.then(async () => {
      for (let b = waiting.get(next); b; b = waiting.get(next)) {
        waiting.delete(next)
        next += b.length
        await o.inOrder!(b)
      }
    })
    return handing
  }
  try {
    /** one request, tried again on what a retry can cure; the body written at its offset */
    const fetchPart = async (range: [number, number] | undefined, check: (res: HttpClientResponse) => number): Promise<HttpClientResponse> => {
      for (let attempt = 1; ; attempt++) {
        let res: HttpClientResponse | undefined
        try {
          res = await client.get(url, range ? { range: `bytes=${range[0]}-${range[1]}` } : {})
          const status = res.message.statusCode ?? 0
          if (status !== 200 && status !== 206) {
            res.message.resume()
            if (retryable(status) && attempt < attempts) throw Object.assign(new HttpStatusError(url, status), { retry: true })
            throw new HttpStatusError(url, status)
          }
          let at = check(res)
          const start = at
          const parts: Buffer[] = []
          for await (const chunk of res.message as AsyncIterable<Buffer>) {
            await fh.write(chunk, 0, chunk.length, at)
            at += chunk.length
            if (o.inOrder) parts.push(chunk)
          }
          const want = Number(res.message.headers['content-length'] ?? NaN)
          if (Number.isFinite(want) && at - start !== want) throw Object.assign(new Error(`${url}: the body ended after ${at - start} of ${want} bytes`), { retry: true })
          // not awaited: the link keeps going while the consumer catches up (at most the file in memory)
          if (o.inOrder) deliver(start, Buffer.concat(parts)).catch(() => {})
          return res
        } catch (err) {
          res?.message.destroy()
          const again = (err as { retry?: boolean }).retry === true || !(err instanceof HttpStatusError)
          if (!again || attempt >= attempts) throw err
          await sleep(backoffMs * attempt)
        }
      }
    }
    // the first range tells the size, or that the server sends the whole file instead
    let total = 0
    let whole = false
    await fetchPart([0, rangeBytes - 1], (res) => {
      if (res.message.statusCode === 200) {
        whole = true
        return 0
      }
      const r = contentRange(res)
      if (!r || r.from !== 0) throw new Error(`${url}: a range answer without a usable Content-Range (${String(res.message.headers['content-range'])})`)
      total = r.total
      return 0
    })
    if (whole) {
      await handing
      return (await fh.stat()).size
    }
    const queue: Array<[number, number]> = []
    for (let from = rangeBytes; from < total; from += rangeBytes) queue.push([from, Math.min(total, from + rangeBytes) - 1])
    const worker = async (): Promise<void> => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        const want = r
        await fetchPart(want, (res) => {
          const got = contentRange(res)
          // a server that changed the file under us, or ignores the range: never stitched together
          if (res.message.statusCode !== 206 || !got || got.from !== want[0] || got.to !== want[1] || got.total !== total) {
            throw new Error(`${url}: asked for bytes ${want[0]}-${want[1]} of ${total}, got ${res.message.statusCode} ${String(res.message.headers['content-range'] ?? '(no Content-Range)')}`)
          }
          return want[0]
        })
      }
    }
    await Promise.all(Array.from({ length: Math.min(connections, queue.length) }, worker))
    await handing
    const size = (await fh.stat()).size
    if (size !== total) throw new Error(`${url}: wrote ${size} of ${total} bytes`)
    return size
  } finally {
    await fh.close()
    client.dispose()
  }
}
