// The archive reader against crafted archives: each must end within the reader's bounds
// (headers, bytes, member size, time) with an error that names the input and the file,
// never loop or fill the heap. The archives are built here, byte by byte, so that each one
// breaks exactly one rule; good archives made by tar itself are in offline.test.ts.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { ARCHIVE_LIMITS, archiveIndexNames, type ArchiveLimits } from '../src/images/archive-index.js'

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ksn-archive-'))
})

/** A ustar header with a right checksum; `sizeField`: the 12 bytes at 124 as given (octal text, or raw bytes). */
function header(name: string, sizeField: string | Buffer, type = '0'): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 'utf8')
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  ;(typeof sizeField === 'string' ? Buffer.from(sizeField, 'latin1') : sizeField).copy(h, 124, 0, 12)
  h.write('00000000000\0', 136)
  h.write(type, 156)
  h.write('ustar\0', 257)
  h.write('00', 263)
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return h
}

const octal = (n: number): string => `${n.toString(8).padStart(11, '0')}\0`
const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)])
const member = (name: string, body: Buffer): Buffer => Buffer.concat([header(name, octal(body.length)), pad(body)])
const END = Buffer.alloc(1024)
const MANIFEST = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['registry.k8s.io/pause:3.10.1'], Layers: [] }]))

async function file(name: string, bytes: Buffer): Promise<string> {
  const p = join(work, name)
  await writeFile(p, bytes)
  return p
}

/** Rejects within `ms` with a message naming the input and the file, and matching `why`. */
async function refused(path: string, why: RegExp, ms: number, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<number> {
  const t0 = performance.now()
  await assert.rejects(archiveIndexNames(path, 'image-archives', limits), (err: Error) => {
    assert.ok(err.message.startsWith(`image-archives: ${path} `), err.message)
    assert.match(err.message, why)
    return true
  })
  const took = performance.now() - t0
  assert.ok(took < ms, `took ${took.toFixed(0)} ms, bound ${ms} ms`)
  return took
}

describe('the archive reader is bounded', () => {
  it('still reads a good archive, plain and gzipped, with the index after a layer', async () => {
    const good = Buffer.concat([member('layer.tar', Buffer.alloc(5000, 7)), member('manifest.json', MANIFEST), END])
    assert.deepEqual(await archiveIndexNames(await file('good.tar', good)), ['registry.k8s.io/pause:3.10.1'])
    assert.deepEqual(await archiveIndexNames(await file('good.tar.gz', gzipSync(good))), ['registry.k8s.io/pause:3.10.1'])
  })

  it('refuses a negative size field (it once sent the reader backwards forever), in octal and in base-256', async () => {
    // 1.5 KB: the archive of the report
    const neg = Buffer.concat([header('layer.tar', '-0000001000\0'), member('manifest.json', MANIFEST)])
    assert.ok(neg.length <= 1536)
    await refused(await file('negative.tar', neg), /size field "-0000001000", which is not octal digits/, 1000)
    const b256 = Buffer.alloc(12, 0xff)
    await refused(await file('negative256.tar', Buffer.concat([header('layer.tar', b256), END])), /negative base-256 size field/, 1000)
  })

  it('refuses a size field that is not octal', async () => {
    await refused(await file('nonoctal.tar', Buffer.concat([header('layer.tar', '0000000009a\0'), END])), /"0000000009a", which is not octal digits/, 1000)
    await refused(await file('hex.tar', Buffer.concat([header('layer.tar', '0x100      \0'), END])), /not octal digits/, 1000)
  })

  it('refuses a size larger than the file, than a number holds, or than the bound', async () => {
    // 8 GiB - 1 claimed in a 2 KB file
    await refused(await file('huge.tar', Buffer.concat([header('layer.tar', '77777777777\0'), END])), /claims 8589934591 bytes, but only 1024 are left in the file \(truncated\)/, 1000)
    const big256 = Buffer.alloc(12, 0x7f)
    big256[0] = 0x80
    await refused(await file('huge256.tar', Buffer.concat([header('layer.tar', big256), END])), /base-256 size field too large to trust/, 1000)
    const small: ArchiveLimits = { ...ARCHIVE_LIMITS, bytes: 1 << 20 }
    await refused(await file('past-bound.tar', Buffer.concat([header('layer.tar', octal(2 << 20)), Buffer.alloc(2 << 20), END])), /claims 2097152 bytes, more than an image archive the action reads \(1048576\)/, 1000, small)
  })

  it('stops after the header bound on endless headers (a 75 MB stream of empty members, each named, gzipped to a fraction of that)', async () => {
    // each a name of its own: a name twice is refused before any bound
    const stream = Buffer.concat(Array.from({ length: 150_000 }, (_, i) => header(`x${i}`, octal(0))))
    const gz = gzipSync(stream)
    assert.ok(gz.length < 4_000_000, `${gz.length} bytes`)
    await refused(await file('endless.tar.gz', gz), /more than 100000 members/, 15_000)
    await refused(await file('endless.tar', stream), /more than 1000 members/, 3000, { ...ARCHIVE_LIMITS, headers: 1000 })
  })

  it('stops a gzip bomb at the byte bound, and at the time bound, without holding it in memory', async () => {
    // gzip members of a 16 MB layer each: about 2 MB on disk for 2 GB of tar (gunzip reads
    // concatenated members as one stream); each layer's header in a gzip member of its own,
    // since a name twice is refused before any bound
    const body = gzipSync(Buffer.alloc(16 << 20), { level: 9 })
    const bomb = Buffer.concat(Array.from({ length: 128 }, (_, i) => [gzipSync(header(`layer${i}.tar`, octal(16 << 20))), body]).flat())
    assert.ok(bomb.length < 3_000_000, `${bomb.length} bytes`)
    const path = await file('bomb.tar.gz', bomb)
    const rss0 = process.memoryUsage().rss
    await refused(path, /holds more than 268435456 bytes/, 10_000, { ...ARCHIVE_LIMITS, bytes: 256 << 20 })
    await refused(path, /took longer than 0\.3s/, 3000, { ...ARCHIVE_LIMITS, ms: 300 })
    const grew = process.memoryUsage().rss - rss0
    assert.ok(grew < 200 << 20, `resident memory grew by ${(grew / 2 ** 20).toFixed(0)} MB`)
  })

  it('refuses a truncated archive: inside a member, inside a header, and a gzip stream cut short', async () => {
    const good = Buffer.concat([member('layer.tar', Buffer.alloc(5000, 7)), member('manifest.json', MANIFEST), END])
    await refused(await file('cut-member.tar', good.subarray(0, 3000)), /claims 5000 bytes, but only 2488 are left in the file \(truncated\)/, 1000)
    await refused(await file('cut-header.tar', good.subarray(0, 512 + 5120 + 100)), /ends inside a header \(truncated\)/, 1000)
    const gz = gzipSync(good)
    await refused(await file('cut.tar.gz', gz.subarray(0, gz.length - 40)), /could not be read as a tar archive \(unexpected end of file\)/, 1000)
    // a damaged header is no header: its checksum says so
    const damaged = Buffer.from(good)
    damaged[5632 + 10] ^= 0xff
    await refused(await file('damaged.tar', damaged), /header 2 has a wrong checksum/, 1000)
  })

  it('refuses an oversized manifest.json and pax header without reading them into memory', async () => {
    const huge = Buffer.alloc(20 << 20, 0x20)
    const manifest = gzipSync(Buffer.concat([member('manifest.json', huge), END]))
    await refused(await file('big-manifest.tar.gz', manifest), /manifest\.json is 20971520 bytes, more than the 16777216 the action reads of it/, 5000)
    const pax = Buffer.concat([header('PaxHeaders/x', octal(huge.length), 'x'), pad(huge), member('manifest.json', MANIFEST), END])
    await refused(await file('big-pax.tar', pax), /a pax header is 20971520 bytes/, 5000)
  })

  it('refuses a manifest.json that is not JSON, naming the file', async () => {
    await refused(await file('notjson.tar', Buffer.concat([member('manifest.json', Buffer.from('[{"RepoTags": ')), END])), /has a manifest\.json that is not an image index/, 1000)
  })

  it('names the cache entry when the archive came from one', async () => {
    const path = await file('entry.tar', Buffer.concat([header('layer.tar', '-1\0'), END]))
    await assert.rejects(archiveIndexNames(path, 'cache entry'), (err: Error) => err.message.startsWith(`cache entry: ${path} could not be read as a tar archive`))
  })
})

/**
 * An image archive laid out as `ctr images export` writes one (and docker save from 25 on):
 * oci-layout, index.json, a docker-compatible manifest.json and the blobs, written by tar
 * itself, directories and `./` included. `index` and `docker`: the names each index gives.
 */
async function ociArchive(name: string, index: string[], docker: string[], extra: Record<string, string> = {}): Promise<string> {
  const dir = join(work, `${name}.d`)
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true })
  const blob = async (body: string): Promise<{ digest: string; size: number }> => {
    const hex = createHash('sha256').update(body).digest('hex')
    await writeFile(join(dir, 'blobs/sha256', hex), body)
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(body) }
  }
  const layer = await blob('')
  const config = await blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }))
  const manifest = await blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }]
    })
  )
  const desc = (n: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...manifest,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': n.split(':').at(-1) }
  })
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: index.map(desc) }))
  const hex = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`
  await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: hex(config.digest), RepoTags: docker, Layers: [hex(layer.digest)] }]))
  for (const [f, body] of Object.entries(extra)) await writeFile(join(dir, f), body)
  const out = join(work, name)
  execFileSync('tar', ['-cf', out, '-C', dir, '.'])
  return out
}

describe("the archive reader reads names as containerd's importer does", () => {
  const PAUSE = 'registry.k8s.io/pause:3.10'
  const MYAPP = 'docker.io/library/myapp:dev'

  it('refuses an archive whose manifest.json names only allowed images while index.json, which containerd imports, names others', async () => {
    // review15 B1: make-archive.sh's archive, which ctr 1.6 and 2.1 imported as both names
    const path = await ociArchive('crafted.tar', [PAUSE, MYAPP], ['registry.k8s.io/pause:3.10'])
    await refused(path, /is refused: its manifest\.json names registry\.k8s\.io\/pause:3\.10, but its index\.json .*as it is\) names docker\.io\/library\/myapp:dev, registry\.k8s\.io\/pause:3\.10/, 1000)
    // the same with no manifest.json at all: index.json's names are the ones read
    const oci = await ociArchive('oci-only.tar', [PAUSE, MYAPP], [])
    execFileSync('tar', ['--delete', '-f', oci, './manifest.json'])
    assert.deepEqual((await archiveIndexNames(oci)).sort(), [MYAPP, PAUSE])
  })

  it('refuses an archive that holds a member name twice: containerd takes the last copy', async () => {
    const second = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['myapp:dev'], Layers: [] }]))
    // the same name spelled another way is the same member once path.Clean has read it
    for (const [i, again] of ['manifest.json', './manifest.json', 'x/../manifest.json', 'manifest.json/'].entries()) {
      const path = await file(`twice-${i}.tar`, Buffer.concat([member('manifest.json', MANIFEST), member(again, second), END]))
      await refused(path, /holds the member "manifest\.json" twice \(containerd's import would take the last copy\)/, 1000)
    }
    // a blob twice too: its name is what a manifest points at
    const blobs = Buffer.concat([member('blobs/sha256/aa', Buffer.from('1')), member('./blobs/sha256/aa', Buffer.from('2')), member('manifest.json', MANIFEST), END])
    await refused(await file('twice-blob.tar', blobs), /holds the member "blobs\/sha256\/aa" twice/, 1000)
  })

  it("reads field names in any letter case, as Go's decoder does, and refuses a key given twice", async () => {
    // Go's encoding/json fills RepoTags from "repotags": the old reader saw no name here
    const lower = Buffer.from(JSON.stringify([{ Config: 'c.json', repotags: ['myapp:dev'], Layers: [] }]))
    assert.deepEqual(await archiveIndexNames(await file('lower.tar', Buffer.concat([member('manifest.json', lower), END]))), [MYAPP])
    const both = Buffer.from('[{"Config":"c.json","RepoTags":["registry.k8s.io/pause:3.10"],"repoTags":["myapp:dev"],"Layers":[]}]')
    await refused(await file('both-cases.tar', Buffer.concat([member('manifest.json', both), END])), /has a manifest\.json that is not an image index \(an object has the key "repotags" twice\)/, 1000)
    // Go merges a repeated map: the image name in the first annotations object would count
    const merged = Buffer.from(
      '{"schemaVersion":2,"manifests":[{"digest":"sha256:00","annotations":{"io.containerd.image.name":"docker.io/library/myapp:dev"},"annotations":{"org.opencontainers.image.ref.name":"3.10"}}]}'
    )
    const layout = member('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'))
    await refused(await file('merged.tar', Buffer.concat([layout, member('index.json', merged), END])), /has a index\.json that is not an image index \(an object has the key "annotations" twice\)/, 1000)
  })

  it('still reads an honest docker-save archive and an honest OCI archive (index.json and manifest.json agreeing)', async () => {
    const dir = join(work, 'save.d')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['registry.k8s.io/pause:3.10', 'busybox:1.37'], Layers: ['l/layer.tar'] }]))
    await writeFile(join(dir, 'cfg.json'), '{}')
    await writeFile(join(dir, 'repositories'), '{}')
    await mkdir(join(dir, 'l'))
    await writeFile(join(dir, 'l/layer.tar'), '')
    const save = join(work, 'save.tar')
    execFileSync('tar', ['-cf', save, '-C', dir, 'manifest.json', 'cfg.json', 'repositories', 'l'])
    assert.deepEqual((await archiveIndexNames(save)).sort(), ['docker.io/library/busybox:1.37', PAUSE])
    // as ctr export writes one: full names in index.json, docker's short ones in manifest.json
    const exported = await ociArchive('export.tar', [PAUSE, 'docker.io/library/busybox:1.37'], ['registry.k8s.io/pause:3.10', 'busybox:1.37'])
    assert.deepEqual((await archiveIndexNames(exported)).sort(), ['docker.io/library/busybox:1.37', PAUSE])
    const gz = join(work, 'export.tar.gz')
    await writeFile(gz, gzipSync(await readFile(exported)))
    assert.deepEqual((await archiveIndexNames(gz)).sort(), ['docker.io/library/busybox:1.37', PAUSE])
  })
})
