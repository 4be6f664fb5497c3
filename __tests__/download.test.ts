import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cachedBinary, ChecksumError, downloadVerified, parseChecksum, unresolvable } from '../src/host/download.js'
import { serve, type TestServer } from './helpers/http.js'

const sha = (b: string): string => createHash('sha256').update(b).digest('hex')

describe('verified downloads', () => {
  let server: TestServer
  let temp: string
  before(async () => {
    temp = await mkdtemp(join(tmpdir(), 'ksn-dl-'))
    process.env.RUNNER_TEMP = temp
    const body = 'the kubeadm binary'
    server = await serve({
      '/v1/kubeadm': { body },
      '/v1/kubeadm.sha256': { body: `${sha(body)}\n` },
      '/v1/cni.tgz': { body: 'plugins' },
      '/v1/cni.tgz.sha256': { body: `${sha('plugins')}  cni.tgz\n` },
      '/v1/evil': { body: 'tampered' },
      '/v1/evil.sha256': { body: sha('original') }
    })
  })
  after(() => server.close())

  it('returns the file when it matches a bare digest', async () => {
    const path = await downloadVerified({ name: 'kubeadm', url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/kubeadm.sha256`, input: 'github-url' })
    assert.equal(await readFile(path, 'utf8'), 'the kubeadm binary')
  })

  it('accepts sha256sum lines naming the file', async () => {
    const path = await downloadVerified({ name: 'cni', url: `${server.url}/v1/cni.tgz`, checksumUrl: `${server.url}/v1/cni.tgz.sha256`, input: 'github-url' })
    assert.equal(await readFile(path, 'utf8'), 'plugins')
  })

  it('deletes a file whose checksum does not match, and says so', async () => {
    const before = new Set(await readdir(temp))
    await assert.rejects(
      downloadVerified({ name: 'evil', url: `${server.url}/v1/evil`, checksumUrl: `${server.url}/v1/evil.sha256`, input: 'github-url' }),
      (err: Error) => {
        assert.ok(err instanceof ChecksumError)
        assert.match(err.message, new RegExp(`has SHA-256 ${sha('tampered')}, but .* publishes ${sha('original')}`))
        assert.match(err.message, /nothing was installed/)
        return true
      }
    )
    const left = (await readdir(temp)).filter((f) => !before.has(f))
    assert.deepEqual(left, [], 'the tampered file must not stay behind')
  })

  it('fails clearly when the checksum is missing', async () => {
    await assert.rejects(downloadVerified({ name: 'kubeadm', url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/nothing.sha256`, input: 'github-url' }), /Could not read the published checksum of kubeadm/)
  })

  it('serves a verified binary from the tool cache the second time, without the network', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const artifact = { name: 'kubeadm', url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/kubeadm.sha256`, input: 'github-url' as const }
    const key = { tool: 'kubeadm', version: 'v1.34.2', arch: 'amd64' }
    const first = await cachedBinary(artifact, key)
    const hits = server.hits.length
    const lines: string[] = []
    const second = await cachedBinary(artifact, key, (l) => lines.push(l))
    assert.equal(second, first)
    assert.equal(server.hits.length, hits, 'no request the second time')
    assert.deepEqual(lines, ['kubeadm v1.34.2 from the tool cache'])
    assert.equal(await readFile(second, 'utf8'), 'the kubeadm binary')
  })

  it('never caches a file that failed verification', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const bad = { name: 'evil', url: `${server.url}/v1/evil`, checksumUrl: `${server.url}/v1/evil.sha256`, input: 'github-url' as const }
    await assert.rejects(cachedBinary(bad, { tool: 'evil', version: '1.0.0', arch: 'amd64' }), ChecksumError)
    assert.deepEqual(await readdir(process.env.RUNNER_TOOL_CACHE), [])
  })

  it('parses checksum files', () => {
    const d = 'a'.repeat(64)
    assert.equal(parseChecksum(`${d}\n`, 'x'), d)
    assert.equal(parseChecksum(`${'b'.repeat(64)}  other\n${d} *x\n`, 'x'), d)
    assert.throws(() => parseChecksum('<html>', 'x'), /no SHA-256 for x/)
    assert.throws(() => parseChecksum(`${d}  other`, 'x'), /no SHA-256 for x/)
  })

  it('says at once which host did not resolve and which input avoids it, without the retries', async () => {
    // .invalid never resolves (RFC 2606)
    const art = { name: 'kubeadm', url: 'https://dl.example.invalid/release/v1.34.2/bin/linux/amd64/kubeadm', checksumUrl: 'https://dl.example.invalid/release/v1.34.2/bin/linux/amd64/kubeadm.sha256', input: 'kubernetes-release-url' as const }
    await assert.rejects(downloadVerified(art), /Could not download kubeadm from https:\/\/dl\.example\.invalid\/.*: dl\.example\.invalid did not resolve \((ENOTFOUND|EAI_AGAIN)\).*Set kubernetes-release-url to a mirror this runner can reach/)
    assert.equal(await unresolvable('http://127.0.0.1:1/x'), undefined, 'an address needs no lookup')
  })
})
