// containerd's image store, driven with ctr in the k8s.io namespace (the one the CRI serves)
// and the same registry hosts directory the CRI reads.
import type { RegistryCredential } from '../../config/inputs.js'
import type { Run } from '../../host/exec.js'
import { archiveNames, confirmImported, type ImageStore } from '../../images/store.js'

export interface ContainerdStoreOptions {
  /** the ctr binary; 'ctr' from PATH on a host */
  ctr?: string
  /** the containerd socket path (no unix:// prefix) */
  address: string
  /** registry hosts directory, e.g. /etc/containerd/certs.d */
  hostsDir: string
  /** Kubernetes images live in k8s.io */
  namespace?: string
  /** the crictl the action installs, for pulls that need registry-credentials */
  crictl?: string
  /**
   * containerd 2.x: registry-credentials go with the pull request (crictl's CRICTL_AUTH), as
   * the kubelet's do; 1.x: containerd takes them from its config.toml
   */
  credentialsInRequest?: boolean
}

export function ctrArgv(o: ContainerdStoreOptions, ...args: string[]): string[] {
  return [o.ctr ?? 'ctr', '--address', o.address, '--namespace', o.namespace ?? 'k8s.io', ...args]
}

/** The pull command; `local` keeps containerd 2.x on the client-side pull that reads --hosts-dir as 1.x does. */
export function ctrPullArgv(o: ContainerdStoreOptions, ref: string, local: boolean): string[] {
  return ctrArgv(o, 'images', 'pull', ...(local ? ['--local'] : []), '--hosts-dir', o.hostsDir, ref)
}

/**
 * The pull for an image registry-credentials apply to: through containerd's CRI, as the
 * kubelet pulls, and never with the token on a command line. ctr has no other way: its --user
 * puts the token in argv, which /proc shows every user on the runner, and without ':PASSWORD'
 * it prompts on a terminal the action does not have (ctr's commands/resolver.go,
 * passwordPrompt). The CRI pulls into k8s.io with the hosts directory, as ctr does.
 * - containerd 1.x: crictl sends no credentials of its own, so containerd uses its
 *   registry.configs.
 * - containerd 2.x (no registry.configs): crictl sends them in the PullImage request, read from
 *   its environment (cri-tools cmd/crictl/image.go: `--auth` takes CRICTL_AUTH, base64
 *   USERNAME:PASSWORD, since v1.24). `sudo env CRICTL_AUTH=...` would show it in argv, so a
 *   fixed sh script (no input in it) reads the value from its standard input into the
 *   environment of root's crictl, whose /proc environ only root may read.
 */
export function criPullArgv(o: ContainerdStoreOptions, ref: string, withAuth = false): string[] {
  const crictl = [o.crictl ?? 'crictl', '--runtime-endpoint', `unix://${o.address}`, '--image-endpoint', `unix://${o.address}`, 'pull', ref]
  return withAuth ? ['sh', '-c', CRICTL_AUTH_FROM_STDIN, 'sh', ...crictl] : crictl
}

/** The one script criPullArgv runs: the first line of standard input becomes CRICTL_AUTH, then its arguments run. */
export const CRICTL_AUTH_FROM_STDIN = 'IFS= read -r CRICTL_AUTH && export CRICTL_AUTH && exec "$@"'

/**
 * The import command; `local` imports in the client, as 1.x does: through containerd 2.x's
 * transfer service the same archive took half as long again (bench/network.bench.ts).
 */
export function ctrImportArgv(o: ContainerdStoreOptions, path: string, local: boolean): string[] {
  return ctrArgv(o, 'images', 'import', ...(local ? ['--local'] : []), path)
}

/**
 * The export the post step runs for the cache: the run's platform only (what was pulled), so
 * that the archive holds every blob its index names and imports whole.
 */
export function ctrExportArgv(o: ContainerdStoreOptions, path: string, refs: readonly string[], local: boolean): string[] {
  return ctrArgv(o, 'images', 'export', ...(local ? ['--local'] : []), path, ...refs)
}

export function containerdStore(run: Run, o: ContainerdStoreOptions): ImageStore {
  const base = ctrArgv(o)
  // asked once per store and command: ctr 1.x has no --local, and works locally anyway
  const local = new Map<string, Promise<boolean>>()
  const supportsLocal = (command: 'pull' | 'import' | 'export'): Promise<boolean> => {
    let p = local.get(command)
    if (!p) {
      p = run([...base, 'images', command, '--help'], { privileged: true, allowFailure: true }).then((r) => /--local\b/.test(r.stdout + r.stderr))
      local.set(command, p)
    }
    return p
  }
  return {
    async list() {
      const res = await run([...base, 'images', 'list', '--quiet'], { privileged: true })
      return new Set(res.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''))
    },
    async pull(ref, credential?: RegistryCredential) {
      if (credential && o.credentialsInRequest) await run(criPullArgv(o, ref, true), { privileged: true, input: `${credential.basic.reveal()}\n` })
      else if (credential) await run(criPullArgv(o, ref), { privileged: true })
      else await run(ctrPullArgv(o, ref, await supportsLocal('pull')), { privileged: true })
    },
    async importArchive(path, input) {
      const names = await archiveNames(run, path, input)
      try {
        await run(ctrImportArgv(o, path, await supportsLocal('import')), { privileged: true })
      } catch (err) {
        // ctr registers each image as it goes: a blob that fails its digest leaves names whose
        // content is incomplete, which a preload would take as present and never pull
        await run([...base, 'images', 'rm', ...names], { privileged: true, allowFailure: true })
        throw err
      }
      return confirmImported(this, path, names)
    },
    async tag(source, target) {
      await run([...base, 'images', 'tag', '--force', source, target], { privileged: true })
    },
    async remove(refs) {
      if (refs.length) await run([...base, 'images', 'rm', ...refs], { privileged: true, allowFailure: true })
    },
    async exportArchive(path, refs) {
      await run(ctrExportArgv(o, path, refs, await supportsLocal('export')), { privileged: true })
    }
  }
}
