// A stand-in for GitHub's cache service, speaking the REST protocol @actions/cache uses with
// GitHub Enterprise Server (its "v1": _apis/artifactcache). Entries live in memory. What it
// lets a test prove: that the real @actions/cache packs the action's entry directory and
// unpacks it on the next run, with the action's keys and restore keys. What it cannot: the
// service behind github.com (v2: twirp calls and Azure blob uploads), which only a workflow
// run reaches.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readBody as read } from './http.js'

interface Entry {
  key: string
  version: string
  body?: Buffer
  chunks: Array<{ start: number; data: Buffer }>
  created: number
}

export interface CacheService {
  /** the value of ACTIONS_CACHE_URL */
  url: string
  /** committed entries, by key */
  keys(): string[]
  /** the address archive downloads are sent to (a shaping front, for bench:cache); by default the service's own */
  setPublicUrl(url: string): void
  close(): Promise<void>
}


export async function startCacheService(): Promise<CacheService> {
  const entries = new Map<number, Entry>()
  let next = 1
  let base = ''
  const json = (res: import('node:http').ServerResponse, status: number, body?: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? undefined : JSON.stringify(body))
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const path = url.pathname
      if (req.method === 'GET' && path === '/_apis/artifactcache/cache') {
        const keys = (url.searchParams.get('keys') ?? '').split(',')
        const version = url.searchParams.get('version')
        const done = [...entries.entries()].filter(([, e]) => e.body && e.version === version)
        // the service's rule: an exact key first, then each restore key as a prefix, newest first
        for (const [i, k] of keys.entries()) {
          const hit = done.filter(([, e]) => (i === 0 ? e.key === k : e.key.startsWith(k))).sort((a, b) => b[1].created - a[1].created)[0]
          if (hit) return json(res, 200, { cacheKey: hit[1].key, scope: 'refs/heads/main', archiveLocation: `${base}/archive/${hit[0]}` })
        }
        return res.writeHead(204).end()
      }
      if (req.method === 'POST' && path === '/_apis/artifactcache/caches') {
        const { key, version } = JSON.parse((await read(req)).toString()) as { key: string; version: string }
        if ([...entries.values()].some((e) => e.key === key && e.version === version)) return json(res, 409, { message: `Cache already exists: ${key}` })
        const id = next++
        entries.set(id, { key, version, chunks: [], created: Date.now() + id })
        return json(res, 201, { cacheId: id })
      }
      const m = /^\/_apis\/artifactcache\/caches\/(\d+)$/.exec(path)
      const entry = m ? entries.get(Number(m[1])) : undefined
      if (m && !entry) return json(res, 404, { message: 'no such cache' })
      if (req.method === 'PATCH' && entry) {
        const range = /^bytes (\d+)-(\d+)\/\*$/.exec(String(req.headers['content-range']))
        if (!range) return json(res, 400, { message: 'Content-Range required' })
        const data = await read(req)
        if (data.length !== Number(range[2]) - Number(range[1]) + 1) return json(res, 400, { message: 'chunk size does not match its range' })
        entry.chunks.push({ start: Number(range[1]), data })
        return res.writeHead(204).end()
      }
      if (req.method === 'POST' && entry) {
        const { size } = JSON.parse((await read(req)).toString()) as { size: number }
        const body = Buffer.concat(entry.chunks.sort((a, b) => a.start - b.start).map((c) => c.data))
        if (body.length !== size) return json(res, 400, { message: `uploaded ${body.length} bytes, committed ${size}` })
        entry.body = body
        return res.writeHead(204).end()
      }
      const a = /^\/archive\/(\d+)$/.exec(path)
      const archive = a ? entries.get(Number(a[1]))?.body : undefined
      if (req.method === 'GET' && archive) {
        // ranges, as the blob store behind the real service answers them (@actions/cache's concurrent download asks for them)
        const r = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''))
        if (!r) return res.writeHead(200, { 'content-length': archive.length }).end(archive)
        const from = Number(r[1])
        const to = r[2] === '' ? archive.length - 1 : Math.min(Number(r[2]), archive.length - 1)
        return res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${archive.length}` }).end(archive.subarray(from, to + 1))
      }
      json(res, 404, { message: `${req.method} ${path}: not a cache service route` })
    })().catch((err: Error) => json(res, 500, { message: err.message }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: `${base}/`,
    setPublicUrl: (url) => void (base = url.replace(/\/$/, '')),
    keys: () => [...entries.values()].filter((e) => e.body).map((e) => e.key),
    close: () => new Promise((r) => server.close(() => r()))
  }
}
