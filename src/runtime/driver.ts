// The container runtime's image store, as the action sees it: list, pull, import, tag.
// containerd is driven with ctr in the k8s.io namespace (the one the CRI serves) and the
// same registry hosts directory the CRI reads; Docker with its own CLI.
import type { Run } from '../host/exec.js'
import { normalizeImage } from '../image-ref.js'

export interface ImageStore {
  list(): Promise<Set<string>>
  pull(ref: string): Promise<void>
  /** imports a docker-save or OCI tarball; returns the names it brought */
  importArchive(path: string): Promise<string[]>
  tag(source: string, target: string): Promise<void>
}

export interface ContainerdStoreOptions {
  /** the ctr binary; 'ctr' from PATH on a host */
  ctr?: string
  /** the containerd socket path (no unix:// prefix) */
  address: string
  /** registry hosts directory, e.g. /etc/containerd/certs.d */
  hostsDir: string
  /** Kubernetes images live in k8s.io */
  namespace?: string
}

export function ctrArgv(o: ContainerdStoreOptions, ...args: string[]): string[] {
  return [o.ctr ?? 'ctr', '--address', o.address, '--namespace', o.namespace ?? 'k8s.io', ...args]
}

/** The pull command; `local` keeps containerd 2.x on the client-side pull that reads --hosts-dir as 1.x does. */
export function ctrPullArgv(o: ContainerdStoreOptions, ref: string, local: boolean): string[] {
  return ctrArgv(o, 'images', 'pull', ...(local ? ['--local'] : []), '--hosts-dir', o.hostsDir, ref)
}

export function containerdStore(run: Run, o: ContainerdStoreOptions): ImageStore {
  const base = ctrArgv(o)
  // asked once per store: ctr 1.x has no --local, and pulls locally anyway
  let local: Promise<boolean> | undefined
  const supportsLocal = (): Promise<boolean> =>
    (local ??= run([...base, 'images', 'pull', '--help'], { privileged: true, allowFailure: true }).then((r) => /--local\b/.test(r.stdout + r.stderr)))
  return {
    async list() {
      const res = await run([...base, 'images', 'list', '--quiet'], { privileged: true })
      return new Set(res.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''))
    },
    async pull(ref) {
      await run(ctrPullArgv(o, ref, await supportsLocal()), { privileged: true })
    },
    async importArchive(path) {
      const names = await archiveNames(run, path)
      await run([...base, 'images', 'import', path], { privileged: true })
      return confirmImported(this, path, names)
    },
    async tag(source, target) {
      await run([...base, 'images', 'tag', '--force', source, target], { privileged: true })
    }
  }
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

async function confirmImported(store: ImageStore, path: string, names: string[]): Promise<string[]> {
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
    }
  }
}

function qualifyDockerName(name: string): string {
  const first = name.split('/')[0]
  if (name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return name
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`
}
