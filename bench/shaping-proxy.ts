// A TCP proxy on loopback that makes a loopback registry look like a registry CDN seen from
// a runner, for `npm run bench:network`. Loopback moves one connection as fast as ten; a
// CDN does not: each connection gets its own share, and every request costs a round trip.
//
// The model, per connection and per direction (a "lane"):
// - Each chunk is cut into 16 KiB pieces. A piece leaves when its connection's token bucket
//   (KSN_BENCH_MBPS; as deep as 8 ms of its rate, 64 KiB at least) has tokens for it and, in the response direction, when the
//   link's bucket shared by every connection (KSN_BENCH_LINK_MBPS, 0 = none) has too. Both
//   buckets are kept in virtual time (GCRA), so late timers never change a rate.
// - A piece arrives RTT/2 after it leaves (KSN_BENCH_RTT_MS): requests one way, responses
//   the other, so each request/response turn costs one RTT on top of its bytes.
// - A new connection's first request byte leaves only KSN_BENCH_SETUP_RTTS round trips after
//   connect (default 2: TCP's handshake and TLS 1.3's; a CDN is HTTPS, this proxy is not).
// - A lane holds at most max(512 KiB, 2 x rate x RTT) before it stops reading its source:
//   about a TCP window that never limits the capped rate.
// Why this approximates a CDN: the edge serves each connection from cache at whatever that
// one TCP flow sustains over the path (one flow's rate is bounded by its window, the RTT and
// loss), while parallel connections each get their own such share until the client's link
// fills. What it leaves out: slow start, loss and its recovery, fair sharing at the
// bottleneck (the shared link is first come first served, like a drop-tail queue), TLS's
// CPU, registry auth (token round trips) and redirects of blobs to another host.
//
// Only loopback is used: it listens on 127.0.0.1 and refuses a non-loopback upstream.
// Standalone: node --import tsx bench/shaping-proxy.ts --upstream 127.0.0.1:5000 [--mbps 10 ...]
import { createServer, connect, isIP, type AddressInfo, type Server, type Socket } from 'node:net'
import { clearTimeout, setTimeout } from 'node:timers'
import { pathToFileURL } from 'node:url'

const MiB = 1024 * 1024
const PIECE = 16 * 1024
/** bucket depth: at least 64 KiB, and 8 ms of the rate so a late timer costs no rate */
const burstFor = (bytesPerSec: number): number => Math.max(64 * 1024, Math.ceil(bytesPerSec * 0.008))

export interface ShapingOptions {
  /** bytes per second each connection may carry in each direction */
  connBytesPerSec: number
  /** bytes per second all connections together may carry toward the client; 0: no total cap */
  linkBytesPerSec: number
  /** bytes per second all connections together may carry away from the client (uploads); 0 or absent: no cap */
  upLinkBytesPerSec?: number
  rttMs: number
  /** round trips before a new connection's first request byte leaves (TCP + TLS 1.3 = 2) */
  setupRtts: number
}

/** Defaults: see describeShaping and the README's bench:network paragraph for why. */
export const DEFAULT_SHAPING = { mbps: 10, linkMbps: 40, rttMs: 20, setupRtts: 2 }

/**
 * Settings from flags (`--mbps 10` or `--mbps=10`) over environment variables over defaults:
 * KSN_BENCH_MBPS (MiB/s per connection), KSN_BENCH_LINK_MBPS (MiB/s in total, 0 for none),
 * KSN_BENCH_RTT_MS, KSN_BENCH_SETUP_RTTS.
 */
export function shapingFromEnv(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ShapingOptions {
  const pick = (flag: string, name: string, fallback: number): number => {
    const raw = flagValue(argv, flag) ?? env[name]
    if (raw === undefined || raw === '') return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} / ${name}: expected a number >= 0, got ${JSON.stringify(raw)}`)
    return n
  }
  const mbps = pick('--mbps', 'KSN_BENCH_MBPS', DEFAULT_SHAPING.mbps)
  if (mbps <= 0) throw new Error('--mbps / KSN_BENCH_MBPS must be above 0: the per-connection cap is the point of the model')
  return {
    connBytesPerSec: mbps * MiB,
    linkBytesPerSec: pick('--link-mbps', 'KSN_BENCH_LINK_MBPS', DEFAULT_SHAPING.linkMbps) * MiB,
    rttMs: pick('--rtt-ms', 'KSN_BENCH_RTT_MS', DEFAULT_SHAPING.rttMs),
    setupRtts: pick('--setup-rtts', 'KSN_BENCH_SETUP_RTTS', DEFAULT_SHAPING.setupRtts)
  }
}

export function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1]
    if (argv[i].startsWith(`${flag}=`)) return argv[i].slice(flag.length + 1)
  }
  return undefined
}

const mibps = (bytesPerSec: number): string => `${+(bytesPerSec / MiB).toFixed(2)} MiB/s (${+((bytesPerSec * 8) / 1e6).toFixed(0)} Mbit/s)`

export function describeShaping(o: ShapingOptions): string {
  return [
    `per connection ${mibps(o.connBytesPerSec)} each way`,
    o.linkBytesPerSec > 0 ? `total link ${mibps(o.linkBytesPerSec)} toward the client` : 'no total link cap',
    ...(o.upLinkBytesPerSec ? [`${mibps(o.upLinkBytesPerSec)} in total away from it`] : []),
    `RTT ${o.rttMs} ms`,
    `${o.setupRtts} RTT before a new connection's first request (TCP + TLS 1.3)`
  ].join(', ')
}

/** A token bucket in virtual time (GCRA): `theoretical` is when the bucket is next full of debt. */
class Bucket {
  private theoretical = 0
  private readonly tolerance: number
  constructor(private readonly bytesPerMs: number, burst: number) {
    this.tolerance = burst / bytesPerMs
  }
  /** the earliest time n bytes may leave */
  earliest(): number {
    return this.theoretical - this.tolerance
  }
  take(at: number, n: number): void {
    this.theoretical = Math.max(at, this.theoretical) + n / this.bytesPerMs
  }
}

export interface ShapingStats {
  /** connections accepted */
  connections: number
  /** most connections open at once */
  peakOpen: number
  /** most connections with response bytes queued or in flight at once */
  peakBusy: number
  /** busy connections integrated over time, in connection-milliseconds */
  busyMs: number
  /** bytes delivered toward the client / toward the upstream */
  bytesDown: number
  bytesUp: number
  /** bytes delivered toward the client in each SLOT_MS since the counters were zeroed */
  timeline: number[]
  /** when the last byte toward the client was delivered, ms after the counters were zeroed */
  lastDownMs: number
}

export const SLOT_MS = 500

const now = (): number => performance.now()

class Lane {
  /** pieces read from the source, not yet sent: when each arrived */
  private readonly waiting: Array<{ arrived: number; buf: Buffer }> = []
  private waitHead = 0
  /** pieces sent, arriving at `at` */
  private readonly flight: Array<{ at: number; buf: Buffer }> = []
  private flightHead = 0
  private queued = 0
  private paused = false
  private ended = false
  private timer?: ReturnType<typeof setTimeout>
  private timerAt = Infinity
  private lastDepart = 0

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly buckets: Bucket[],
    private readonly delayMs: number,
    private readonly openAt: number,
    private readonly highWater: number,
    private readonly delivered: (n: number) => void,
    private readonly busy: (on: boolean) => void
  ) {
    src.on('data', (chunk: Buffer) => this.push(chunk))
    src.on('end', () => {
      this.ended = true
      this.pump()
    })
    dst.on('drain', () => this.maybeResume())
  }

  private push(chunk: Buffer): void {
    if (this.queued === 0) this.busy(true)
    const arrived = now()
    for (let off = 0; off < chunk.length; off += PIECE) this.waiting.push({ arrived, buf: chunk.subarray(off, off + PIECE) })
    this.queued += chunk.length
    if (this.queued > this.highWater && !this.paused) {
      this.paused = true
      this.src.pause()
    }
    this.pump()
  }

  /**
   * Sends what the buckets allow by now, each piece at the virtual time its tokens came (so a
   * late timer costs no rate), and delivers what has arrived. Tokens are taken when a piece
   * leaves, never ahead, so connections take the shared link in turn.
   */
  private pump(): void {
    if (this.dst.destroyed) return
    const t = now()
    let nextDepart = Infinity
    while (this.waitHead < this.waiting.length) {
      const { arrived, buf } = this.waiting[this.waitHead]
      let depart = Math.max(arrived, this.openAt, this.lastDepart)
      for (const b of this.buckets) depart = Math.max(depart, b.earliest())
      if (depart > t) {
        nextDepart = depart
        break
      }
      for (const b of this.buckets) b.take(depart, buf.length)
      this.lastDepart = depart
      this.flight.push({ at: depart + this.delayMs, buf })
      this.waitHead++
    }
    while (this.flightHead < this.flight.length && this.flight[this.flightHead].at <= t) {
      const { buf } = this.flight[this.flightHead++]
      this.dst.write(buf)
      this.queued -= buf.length
      this.delivered(buf.length)
    }
    compact(this.waiting, this.waitHead, (n) => (this.waitHead -= n))
    compact(this.flight, this.flightHead, (n) => (this.flightHead -= n))
    if (this.queued === 0) this.busy(false)
    this.maybeResume()
    const next = Math.min(nextDepart, this.flightHead < this.flight.length ? this.flight[this.flightHead].at : Infinity)
    if (next < Infinity) {
      if (next < this.timerAt) {
        if (this.timer !== undefined) clearTimeout(this.timer)
        this.timerAt = next
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.timerAt = Infinity
          this.pump()
        }, Math.max(0, next - t))
      }
    } else if (this.ended && this.queued === 0) {
      this.dst.end()
    }
  }

  private maybeResume(): void {
    if (this.paused && this.queued <= this.highWater / 2 && this.dst.writableLength <= this.highWater) {
      this.paused = false
      this.src.resume()
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }
}

function compact<T>(xs: T[], head: number, shift: (n: number) => void): void {
  if (head > 1024 && head * 2 > xs.length) {
    xs.splice(0, head)
    shift(head)
  }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '[::1]'
}

export interface ShapingProxy {
  /** 127.0.0.1:port */
  host: string
  options: ShapingOptions
  /** the counters since the last call (or since start), then zeroed */
  takeStats(): ShapingStats
  close(): Promise<void>
}

/** The link toward the client, as one bucket: proxies handed the same one share the link's rate. */
export type Link = Bucket | undefined
export const newLink = (o: ShapingOptions): Link => (o.linkBytesPerSec > 0 ? new Bucket(o.linkBytesPerSec / 1000, burstFor(o.linkBytesPerSec)) : undefined)

/**
 * A shaped front for a loopback service. Two fronts given the same `link` (bench:fetch's
 * registry and release file server) share one link toward the client, as a runner's NIC does.
 */
export async function startShapingProxy(upstream: string, o: ShapingOptions, link: Link = newLink(o)): Promise<ShapingProxy> {
  const sep = upstream.lastIndexOf(':')
  const upHost = upstream.slice(0, sep)
  const upPort = Number(upstream.slice(sep + 1))
  if (!isLoopback(upHost) || !Number.isInteger(upPort)) throw new Error(`the shaping proxy forwards to loopback only, not ${upstream}`)
  const half = o.rttMs / 2
  const highWater = Math.max(512 * 1024, Math.ceil((2 * o.connBytesPerSec * o.rttMs) / 1000))
  const upLink = o.upLinkBytesPerSec ? new Bucket(o.upLinkBytesPerSec / 1000, burstFor(o.upLinkBytesPerSec)) : undefined
  const zero = (): ShapingStats => ({ connections: 0, peakOpen: 0, peakBusy: 0, busyMs: 0, bytesDown: 0, bytesUp: 0, timeline: [], lastDownMs: 0 })
  let stats = zero()
  let zeroedAt = now()
  const down = (n: number): void => {
    stats.bytesDown += n
    const slot = Math.floor((now() - zeroedAt) / SLOT_MS)
    while (stats.timeline.length <= slot) stats.timeline.push(0)
    stats.timeline[slot] += n
    stats.lastDownMs = now() - zeroedAt
  }
  let open = 0
  let busy = 0
  let busySince = now()
  const setBusy = (delta: number): void => {
    const t = now()
    stats.busyMs += busy * (t - busySince)
    busySince = t
    busy += delta
    stats.peakBusy = Math.max(stats.peakBusy, busy)
  }
  const sockets = new Set<Socket>()
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const accepted = now()
    const up = connect({ host: upHost, port: upPort, allowHalfOpen: true })
    client.setNoDelay(true)
    up.setNoDelay(true)
    sockets.add(client)
    sockets.add(up)
    stats.connections++
    open++
    stats.peakOpen = Math.max(stats.peakOpen, open)
    const perConn = (): Bucket => new Bucket(o.connBytesPerSec / 1000, burstFor(o.connBytesPerSec))
    let downBusy = false
    const requests = new Lane(client, up, upLink ? [perConn(), upLink] : [perConn()], half, accepted + o.setupRtts * o.rttMs, highWater, (n) => (stats.bytesUp += n), () => {})
    const responses = new Lane(up, client, link ? [perConn(), link] : [perConn()], half, 0, highWater, down, (on) => {
      if (on !== downBusy) {
        downBusy = on
        setBusy(on ? 1 : -1)
      }
    })
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      requests.stop()
      responses.stop()
      if (downBusy) setBusy(-1)
      open--
      client.destroy()
      up.destroy()
      sockets.delete(client)
      sockets.delete(up)
    }
    for (const s of [client, up]) {
      s.on('error', close)
      s.on('close', close)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    options: o,
    takeStats() {
      setBusy(0)
      const s = stats
      stats = zero()
      zeroedAt = now()
      stats.peakOpen = open
      stats.peakBusy = busy
      return s
    },
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(() => r()))
    }
  }
}

// Standalone: a shaped front for any loopback service, until Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const upstream = flagValue(process.argv, '--upstream')
  if (!upstream) {
    console.error('usage: node --import tsx bench/shaping-proxy.ts --upstream 127.0.0.1:PORT [--mbps N] [--link-mbps N] [--rtt-ms N] [--setup-rtts N]')
    process.exit(2)
  }
  const options = shapingFromEnv()
  const proxy = await startShapingProxy(upstream, options)
  console.log(`shaping ${upstream} on ${proxy.host}: ${describeShaping(options)}`)
  const stop = (): void => void proxy.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
