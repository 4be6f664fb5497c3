// The container runtime's image store, as the action sees it: list, pull, import, tag.
// containerd is driven with ctr in the k8s.io namespace (the one the CRI serves) and the
// same registry hosts directory the CRI reads; Docker with its own CLI.
import type { Run } from '../host/exec.js'

export interface ImageStore {
  readonly name: 'containerd' | 'docker'
  list(): Promise<Set<string>>
  pull(ref: string): Promise<void>
  /** imports a docker-save or OCI tarball; returns the names it brought */
  importArchive(path: string): Promise<string[]>
  tag(source: string, target: string): Promise<void>
}

export interface ContainerdStoreOptions {
  /** the containerd socket path (no unix:// prefix) */
  address: string
  /** registry hosts directory, e.g. /etc/containerd/certs.d */
  hostsDir: string
  /** Kubernetes images live in k8s.io */
  namespace?: string
}

export function ctrArgv(o: ContainerdStoreOptions, ...args: string[]): string[] {
  return ['ctr', '--address', o.address, '--namespace', o.namespace ?? 'k8s.io', ...args]
}

/** The pull command; `local` keeps containerd 2.x on the client-side pull that reads --hosts-dir as 1.x does. */
export function ctrPullArgv(o: ContainerdStoreOptions, ref: string, local: boolean): string[] {
  return ctrArgv(o, 'images', 'pull', ...(local ? ['--local'] : []), '--hosts-dir', o.hostsDir, ref)
}

export function containerdStore(run: Run, o: ContainerdStoreOptions): ImageStore {
  const base = ctrArgv(o)
  return {
    name: 'containerd',
    async list() {
      const res = await run([...base, 'images', 'list', '--quiet'], { privileged: true })
      return new Set(res.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''))
    },
    async pull(ref) {
      await run(ctrPullArgv(o, ref, await supportsLocal(run, base)), { privileged: true })
    },
    async importArchive(path) {
      const res = await run([...base, 'images', 'import', path], { privileged: true })
      return parseImported(res.stdout + res.stderr)
    },
    async tag(source, target) {
      await run([...base, 'images', 'tag', '--force', source, target], { privileged: true })
    }
  }
}

const localFlag = new Map<string, Promise<boolean>>()
function supportsLocal(run: Run, base: string[]): Promise<boolean> {
  const key = base.join(' ')
  let p = localFlag.get(key)
  if (!p) {
    p = run([...base, 'images', 'pull', '--help'], { privileged: true, allowFailure: true }).then((r) =>
      /--local\b/.test(r.stdout + r.stderr)
    )
    localFlag.set(key, p)
  }
  return p
}

/** ctr and docker both print one line per imported image naming it. */
export function parseImported(output: string): string[] {
  const names: string[] = []
  for (const line of output.split('\n')) {
    const m = /(?:unpacking|Loaded image:|imported)\s+(\S+)/i.exec(line)
    if (m) names.push(m[1].replace(/\s*\(.*$/, ''))
  }
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
    name: 'docker',
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
      const res = await docker(['load', '--input', path])
      return parseImported(res.stdout).map(qualifyDockerName)
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
