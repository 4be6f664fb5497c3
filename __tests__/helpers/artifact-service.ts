// A stand-in for GitHub's artifact service as @actions/artifact v6 speaks to it (the protocol
// behind actions/upload-artifact v4 and later): twirp JSON calls under
// /twirp/github.actions.results.api.v1.ArtifactService/ (CreateArtifact, then
// FinalizeArtifact, each naming the job run the runtime token's scope names), and the zip in
// between uploaded to the signed URL CreateArtifact returns, as Azure blob storage takes it
// (@azure/storage-blob's uploadStream: Put Block per chunk, then Put Block List). Read from
// @actions/artifact 6.2.1: lib/internal/upload/upload-artifact.js, blob-upload.js and
// lib/generated/results/api/v1/artifact.js. Artifacts live in memory. What it cannot show:
// the real service's limits, retention and the download's zip handling, which only a
// workflow run reaches.
import { createHash } from 'node:crypto'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readBody as read } from './http.js'

export interface StoredArtifact {
  name: string
  runId: string
  jobRunId: string
  mimeType?: string
  /** the zip, once finalized */
  body?: Buffer
  /** what FinalizeArtifact said: size and sha256:HEX */
  size?: number
  hash?: string
  id?: number
}

export interface ArtifactService {
  /** ACTIONS_RESULTS_URL */
  url: string
  /** an ACTIONS_RUNTIME_TOKEN whose scope names this run and job run */
  token(runId?: string, jobRunId?: string): string
  /** finalized artifacts */
  artifacts(): StoredArtifact[]
  /** every twirp call made, by method name */
  calls: string[]
  /** make every twirp call answer with this status (403: not retried by the client) */
  failWith?: number
  close(): Promise<void>
}

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/'


/** A JWT as the runner hands one over: only its payload is read by the client (jwt-decode), never its signature. */
function jwt(payload: object): string {
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.stand-in`
}

export async function startArtifactService(): Promise<ArtifactService> {
  const pending = new Map<string, StoredArtifact & { blocks: Map<string, Buffer>; committed?: Buffer }>()
  const done: StoredArtifact[] = []
  const calls: string[] = []
  let nextId = 1
  let base = ''
  const json = (res: ServerResponse, status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const service: ArtifactService = {
    url: '',
    token: (runId = 'run-1', jobRunId = 'job-run-1') => jwt({ scp: `Actions.ExampleScope Actions.Results:${runId}:${jobRunId}` }),
    artifacts: () => [...done],
    calls,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      })
  }
  const key = (run: string, job: string, name: string): string => `${run}/${job}/${name}`
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method === 'POST' && url.pathname.startsWith(SERVICE)) {
        const method = url.pathname.slice(SERVICE.length)
        calls.push(method)
        if (req.headers.authorization !== `Bearer ${process.env.ACTIONS_RUNTIME_TOKEN}`) return json(res, 401, { code: 'unauthenticated', msg: 'no bearer token' })
        if (service.failWith) return json(res, service.failWith, { code: 'permission_denied', msg: 'the stand-in refuses, as asked' })
        const body = JSON.parse((await read(req)).toString()) as Record<string, unknown>
        const run = String(body.workflow_run_backend_id ?? '')
        const job = String(body.workflow_job_run_backend_id ?? '')
        const name = String(body.name ?? '')
        if (!run || !job || !name) return json(res, 400, { code: 'invalid_argument', msg: 'run, job run and name are required' })
        if (method === 'CreateArtifact') {
          // the real service refuses a second artifact of one name in a run
          if (done.some((a) => a.runId === run && a.name === name) || pending.has(key(run, job, name))) return json(res, 409, { code: 'already_exists', msg: `an artifact named ${name} already exists` })
          const mime = body.mime_type as { value?: string } | string | undefined
          pending.set(key(run, job, name), { name, runId: run, jobRunId: job, mimeType: typeof mime === 'string' ? mime : mime?.value, blocks: new Map() })
          const blob = encodeURIComponent(key(run, job, name))
          return json(res, 200, { ok: true, signed_upload_url: `${base}/blobs/artifacts/${blob}?sig=stand-in-signature&sv=2023-11-03` })
        }
        if (method === 'FinalizeArtifact') {
          const a = pending.get(key(run, job, name))
          if (!a?.committed) return json(res, 404, { code: 'not_found', msg: `no uploaded artifact named ${name}` })
          const size = Number(body.size)
          if (size !== a.committed.length) return json(res, 400, { code: 'invalid_argument', msg: `finalized with size ${size}, uploaded ${a.committed.length}` })
          pending.delete(key(run, job, name))
          const hash = typeof body.hash === 'string' ? body.hash : (body.hash as { value?: string } | undefined)?.value
          const digest = `sha256:${createHash('sha256').update(a.committed).digest('hex')}`
          if (hash !== undefined && hash !== digest) return json(res, 400, { code: 'invalid_argument', msg: `finalized with ${hash}, uploaded ${digest}` })
          const stored: StoredArtifact = { name, runId: run, jobRunId: job, mimeType: a.mimeType, body: a.committed, size, hash, id: nextId++ }
          done.push(stored)
          return json(res, 200, { ok: true, artifact_id: String(stored.id) })
        }
        return json(res, 404, { code: 'bad_route', msg: `${method} is not served by the stand-in` })
      }
      const blob = /^\/blobs\/artifacts\/([^/]+)$/.exec(url.pathname)
      if (req.method === 'PUT' && blob) {
        if (url.searchParams.get('sig') !== 'stand-in-signature') return res.writeHead(403).end()
        const a = pending.get(decodeURIComponent(blob[1]))
        if (!a) return res.writeHead(404).end()
        const data = await read(req)
        const comp = url.searchParams.get('comp')
        const headers = { 'x-ms-request-id': `stand-in-${calls.length}`, 'x-ms-version': '2023-11-03', date: new Date().toUTCString() }
        if (comp === 'block') {
          a.blocks.set(url.searchParams.get('blockid') ?? '', data)
          return res.writeHead(201, headers).end()
        }
        if (comp === 'blocklist') {
          // <BlockList><Latest>ID</Latest>...</BlockList>, in the order the blob is made of
          const ids = [...data.toString().matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map((m) => m[1])
          const missing = ids.filter((id) => !a.blocks.has(id))
          if (missing.length) return res.writeHead(400, headers).end(`blocks never put: ${missing.join(', ')}`)
          a.committed = Buffer.concat(ids.map((id) => a.blocks.get(id)!))
          return res.writeHead(201, { ...headers, etag: '"stand-in"', 'last-modified': new Date().toUTCString() }).end()
        }
        // a single Put Blob (small uploads, where the client chooses it)
        a.committed = data
        return res.writeHead(201, { ...headers, etag: '"stand-in"', 'last-modified': new Date().toUTCString() }).end()
      }
      json(res, 404, { code: 'bad_route', msg: `${req.method} ${url.pathname}: not an artifact service route` })
    })().catch((err: Error) => json(res, 500, { code: 'internal', msg: err.message }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  service.url = `${base}/`
  return service
}
