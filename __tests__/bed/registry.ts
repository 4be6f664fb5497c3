// Debian's docker-registry on loopback, and a fault-injecting proxy in front of it that
// answers chosen requests with 500s or 429s the way a struggling registry does.
import { writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { BINS } from './env.js'
import { Daemon, waitFor } from './daemons.js'

export async function freePort(): Promise<number> {
  const srv = createNetServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}

export interface Registry {
  host: string
  daemon: Daemon
}

/**
 * `htpasswd`: a file of bcrypt `user:hash` lines; the registry then refuses every request
 * without one of those users' basic credentials (distribution's htpasswd auth), as a private
 * registry or a logged-in-only mirror does.
 */
export async function startRegistry(dir: string, o: { name?: string; htpasswd?: string } = {}): Promise<Registry> {
  const port = await freePort()
  const name = o.name ?? 'registry'
  const config = join(dir, `${name}.yml`)
  await writeFile(
    config,
    stringify({
      version: 0.1,
      log: { level: 'warn' },
      storage: { filesystem: { rootdirectory: join(dir, name) }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
      ...(o.htpasswd ? { auth: { htpasswd: { realm: 'ksn-bed', path: o.htpasswd } } } : {})
    })
  )
  const daemon = new Daemon(name, () => [BINS.registry, 'serve', config], join(dir, `${name}.log`))
  daemon.start()
  const host = `127.0.0.1:${port}`
  await waitFor('the registry', async () => (await fetch(`http://${host}/v2/`)).status === (o.htpasswd ? 401 : 200))
  return { host, daemon }
}

export interface FaultRule {
  /** matched against the request path, e.g. /v2/pause/manifests/ */
  path: RegExp
  /** statuses to answer with, in order, before passing requests through */
  statuses: number[]
  hits?: number
}

export interface FaultProxy {
  host: string
  rules: FaultRule[]
  close(): Promise<void>
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const rules: FaultRule[] = []
  const server: Server = createServer((req, res) => {
    const rule = rules.find((r) => r.path.test(req.url ?? '') && (r.hits ?? 0) < r.statuses.length)
    if (rule) {
      const status = rule.statuses[rule.hits ?? 0]
      rule.hits = (rule.hits ?? 0) + 1
      const body = status === 429 ? { errors: [{ code: 'TOOMANYREQUESTS', message: 'toomanyrequests: You have reached your pull rate limit' }] } : { errors: [{ code: 'UNKNOWN', message: 'internal server error' }] }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      return
    }
    const [hostname, port] = upstream.split(':')
    const up = request({ hostname, port: Number(port), path: req.url, method: req.method, headers: { ...req.headers, host: upstream } }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers)
      ures.pipe(res)
    })
    up.on('error', () => res.writeHead(502).end())
    req.pipe(up)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { host: `127.0.0.1:${port}`, rules, close: () => new Promise((r) => server.close(() => r())) }
}
