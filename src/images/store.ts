// An image store, as the action sees one: list, pull, import, tag, export. Each runtime driver
// gives its own (containerd's in runtimes/containerd/store.ts); Docker's is here for the
// test bed and for a runtime that keeps images in Docker.
import type { Run } from '../host/exec.js'
import { normalizeImage } from './ref.js'

export interface ImageStore {
  list(): Promise<Set<string>>
  pull(ref: string): Promise<void>
  /** imports a docker-save or OCI tarball; returns the names it brought */
  importArchive(path: string): Promise<string[]>
  tag(source: string, target: string): Promise<void>
  /** writes the named images, as the store holds them, to one archive that importArchive takes back */
  exportArchive(path: string, refs: readonly string[]): Promise<void>
}

/**
 * The names an image tarball declares: RepoTags in a docker-save manifest.json, or the
 * name annotations of an OCI index.json. Read from the archive itself because ctr's import
 * output is a progress display that differs between versions.
 */
export function namesInArchiveIndex(file: 'manifest.json' | 'index.json', text: string): string[] {
  const json = JSON.parse(text)
  const raw =
    file === 'manifest.json'
      ? (json as Array<{ RepoTags?: string[] }>).flatMap((m) => m.RepoTags ?? [])
      : ((json.manifests ?? []) as Array<{ annotations?: Record<string, string> }>).flatMap((m) => {
          const a = m.annotations ?? {}
          const name = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']
          return name && name.includes('/') ? [name] : []
        })
  return [...new Set(raw.map(normalizeImage))]
}

export async function archiveNames(run: Run, path: string): Promise<string[]> {
  for (const file of ['manifest.json', 'index.json'] as const) {
    const res = await run(['tar', '-xOf', path, file], { privileged: true, allowFailure: true })
    if (res.exitCode === 0 && res.stdout.trim() !== '') return namesInArchiveIndex(file, res.stdout)
  }
  throw new Error(`${path} is neither a docker-save nor an OCI image archive (no manifest.json or index.json in it)`)
}

export async function confirmImported(store: ImageStore, path: string, names: string[]): Promise<string[]> {
  const have = await store.list()
  const missing = names.filter((n) => !have.has(n))
  if (missing.length > 0) throw new Error(`importing ${path} did not bring ${missing.join(', ')}`)
  return names
}

export interface DockerStoreOptions {
  /** DOCKER_HOST, for a daemon other than the default one */
  dockerHost?: string
}

export function dockerStore(run: Run, o: DockerStoreOptions = {}): ImageStore {
  const env = o.dockerHost ? { DOCKER_HOST: o.dockerHost } : undefined
  const docker = (args: string[]) => run(['docker', ...args], { privileged: true, env })
  return {
    async list() {
      const res = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
      const names = res.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.endsWith(':<none>'))
      // Docker shortens Docker Hub names; the plan speaks fully qualified ones.
      return new Set(names.flatMap((n) => [n, qualifyDockerName(n)]))
    },
    async pull(ref) {
      await docker(['pull', ref])
    },
    async importArchive(path) {
      const names = await archiveNames(run, path)
      await docker(['load', '--input', path])
      return confirmImported(this, path, names)
    },
    async tag(source, target) {
      await docker(['tag', source, target])
    },
    async exportArchive(path, refs) {
      await docker(['save', '--output', path, ...refs])
    }
  }
}

function qualifyDockerName(name: string): string {
  const first = name.split('/')[0]
  if (name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return name
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`
}
