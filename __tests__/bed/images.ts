// Small images with real layers, built as OCI layouts and pushed with skopeo under the
// names the real ones carry.
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { BINS } from './env.js'

const exec = promisify(execFile)
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** A one-file tar archive (ustar), enough for a real layer. */
function tarOf(name: string, body: Buffer): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 100)
  header.write('0000644\0', 100)
  header.write('0000000\0', 108)
  header.write('0000000\0', 116)
  header.write(body.length.toString(8).padStart(11, '0') + '\0', 124)
  header.write('00000000000\0', 136)
  header.write('        ', 148)
  header.write('0', 156)
  header.write('ustar\0', 257)
  header.write('00', 263)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512)
  return Buffer.concat([header, body, pad, Buffer.alloc(1024)])
}

export const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64'

/** Writes an OCI image layout with one gzip layer per size (random bytes, so sizes are real). */
export async function buildImage(dir: string, label: string, layerBytes: number[]): Promise<string> {
  const layout = join(dir, `oci-${label.replace(/[^a-z0-9]/gi, '_')}`)
  const blobs = join(layout, 'blobs', 'sha256')
  await mkdir(blobs, { recursive: true })
  const put = async (b: Buffer): Promise<string> => {
    const d = sha(b)
    await writeFile(join(blobs, d), b)
    return d
  }
  const layers = []
  const diffIds = []
  for (const [i, size] of layerBytes.entries()) {
    const tar = tarOf(`${label.replace(/[^a-z0-9]/gi, '_')}-${i}.bin`, randomBytes(size))
    const gz = gzipSync(tar, { level: 1 })
    diffIds.push(`sha256:${sha(tar)}`)
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${await put(gz)}`, size: gz.length })
  }
  const config = Buffer.from(JSON.stringify({ architecture: ARCH, os: 'linux', config: { Labels: { 'ksn.test': label } }, rootfs: { type: 'layers', diff_ids: diffIds } }))
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${await put(config)}`, size: config.length }, layers })
  )
  const md = await put(manifest)
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${md}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] })
  )
  return layout
}

/** `creds`: USERNAME:PASSWORD for a registry that wants them (the bed's own test secret, so argv is fine). */
export async function push(layout: string, dest: string, creds?: string): Promise<void> {
  await exec(BINS.skopeo, ['copy', '--quiet', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), `oci:${layout}:latest`, `docker://${dest}`])
}

/** A `docker save` tarball holding `layout` under `name`. */
export async function dockerArchive(layout: string, path: string, name: string): Promise<void> {
  await exec(BINS.skopeo, ['copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${path}:${name}`])
}
