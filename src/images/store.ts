// An image store, as the action sees one: list, pull, import, tag, export. Each runtime driver
// gives its own (containerd's in runtimes/containerd/store.ts); Docker's is here for the
// test bed and for the docker runtime (runtimes/docker/store.ts adds mirrors to its pulls).
import type { RegistryCredential } from '../config/inputs.js'
import type { Run } from '../host/exec.js'
import { ARCHIVE_LIMITS, archiveIndexNames, cleanMemberName, namesOfIndex, type ArchiveIndex } from './archive-index.js'
import { refuseUntrustedLink } from '../host/links.js'

export interface ImageStore {
  list(): Promise<Set<string>>
  /**
   * `credential`: the registry-credentials line this pull uses. The runtime must never put it
   * on a command line, where /proc shows it to every user (containerd 1.x finds it in its own
   * configuration; 2.x is given it on crictl's standard input).
   */
  pull(ref: string, credential?: RegistryCredential): Promise<void>
  /** imports a docker-save or OCI tarball; returns the names it brought */
  importArchive(path: string, input?: string): Promise<string[]>
  tag(source: string, target: string): Promise<void>
  /** removes these names (the content goes when nothing else names it); a name not there is no error */
  remove(refs: readonly string[]): Promise<void>
  /** writes the named images, as the store holds them, to one archive that importArchive takes back */
  exportArchive(path: string, refs: readonly string[]): Promise<void>
}

/**
 * The names an archive brings, read from its headers in this process; through root's tar
 * only where this user may not read the file (a tarball a root step wrote 0600).
 */
export async function archiveNames(run: Run, path: string, input = 'image-archives', read = archiveIndexNames): Promise<string[]> {
  try {
    return await read(path, input)
  } catch (err) {
    if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code !== 'EACCES') throw err
  }
  // root reads it: never a file a user's link points at (such as root's own secrets)
  await refuseUntrustedLink(path, `read ${path} (${input})`)
  // the same rules as the reader's (archive-index.ts): no member name twice, after Go's
  // path.Clean, and index files that agree
  const listing = await run(['tar', '-tf', path], { privileged: true, allowFailure: true })
  if (listing.exitCode !== 0) throw new Error(`${input}: ${path} could not be read as a tar archive (${(listing.stderr || listing.stdout).trim().split('\n')[0]})`)
  const members = new Map<string, string>()
  for (const raw of listing.stdout.split('\n')) {
    if (raw === '' || raw.endsWith('/')) continue
    const name = cleanMemberName(raw)
    if (members.has(name)) throw new Error(`${input}: ${path} could not be read as a tar archive (it holds the member ${JSON.stringify(name)} twice)`)
    members.set(name, raw)
  }
  const index: ArchiveIndex = { ociLayout: members.has('oci-layout') }
  for (const file of ['manifest.json', 'index.json'] as const) {
    const raw = members.get(file)
    if (raw === undefined) continue
    const res = await run(['tar', '-xOf', path, '--', raw], { privileged: true, allowFailure: true })
    if (res.exitCode !== 0) continue
    if (res.stdout.length > ARCHIVE_LIMITS.member) throw new Error(`${input}: ${path} has a ${file} larger than the ${ARCHIVE_LIMITS.member} bytes the action reads of it`)
    index[file] = res.stdout
  }
  return namesOfIndex(index, path, input)
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

/** The docker commands the store runs, shared with the dry run. */
export const dockerArgv = {
  list: (): string[] => ['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'],
  pull: (ref: string): string[] => ['docker', 'pull', ref],
  load: (path: string): string[] => ['docker', 'load', '--input', path],
  tag: (source: string, target: string): string[] => ['docker', 'tag', source, target],
  remove: (ref: string): string[] => ['docker', 'image', 'rm', ref],
  save: (path: string, refs: readonly string[]): string[] => ['docker', 'save', '--output', path, ...refs]
}

export function dockerStore(run: Run, o: DockerStoreOptions = {}): ImageStore {
  const env = o.dockerHost ? { DOCKER_HOST: o.dockerHost } : undefined
  const docker = (argv: string[]) => run(argv, { privileged: true, env })
  return {
    async list() {
      const res = await docker(dockerArgv.list())
      const names = res.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.endsWith(':<none>'))
      // Docker shortens Docker Hub names; the plan speaks fully qualified ones.
      return new Set(names.flatMap((n) => [n, qualifyDockerName(n)]))
    },
    // the daemon reads no credentials of its own: a docker pull with them would need the
    // client's config.json, which the runtime step writes for the runner user
    async pull(ref) {
      await docker(dockerArgv.pull(ref))
    },
    async importArchive(path, input) {
      const names = await archiveNames(run, path, input)
      await docker(dockerArgv.load(path))
      return confirmImported(this, path, names)
    },
    async tag(source, target) {
      await docker(dockerArgv.tag(source, target))
    },
    // one name at a time: list gives Docker Hub names twice (short and qualified), and docker
    // stops at the first it does not find
    async remove(refs) {
      for (const ref of refs) await run(dockerArgv.remove(ref), { privileged: true, env, allowFailure: true })
    },
    async exportArchive(path, refs) {
      await docker(dockerArgv.save(path, refs))
    }
  }
}

function qualifyDockerName(name: string): string {
  const first = name.split('/')[0]
  if (name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return name
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`
}
