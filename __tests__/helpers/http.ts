// An HTTP server serving a route table, for version markers and downloads: on loopback, or on
// another address of this machine where a test needs a mirror that is not on loopback.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { networkInterfaces } from 'node:os'

export type Route = { status?: number; body: string | Buffer } | ((req: IncomingMessage, res: ServerResponse) => void)

export interface TestServer {
  url: string
  hits: string[]
  close(): Promise<void>
}

export async function serve(routes: Record<string, Route>, host = '127.0.0.1'): Promise<TestServer> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    const route = routes[req.url ?? '']
    if (!route) {
      res.writeHead(404).end('not found')
    } else if (typeof route === 'function') {
      route(req, res)
    } else {
      res.writeHead(route.status ?? 200).end(route.body)
    }
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}`,
    hits,
    close: () => new Promise((r) => server.close(() => r()))
  }
}

/** An IPv4 address of this machine that is not loopback: a mirror served there counts as one elsewhere. */
export function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address
}

/** A request's whole body. */
export const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => resolve(Buffer.concat(parts)))
    req.on('error', reject)
  })
