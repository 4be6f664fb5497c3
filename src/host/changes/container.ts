// A container the action starts in the host's Docker (an add-on's, such as the local
// registry). Recorded before `docker run`, and only when no container has that name: cleanup
// then removes exactly the container the action made, by its name, never one a user had.
// Names are the action's own (kubeadm-single-node-…): the ledger is read back as root, and a
// record naming any other container is refused rather than handed to `docker rm`.
import type { RunOptions, RunResult } from '../exec.js'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface ContainerChange {
  kind: 'container'
  name: string
}

/** The names the action gives its containers, and the only ones the ledger accepts. */
export const CONTAINER_NAME = /^kubeadm-single-node-[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/

export const dockerRunArgv = (name: string, args: readonly string[]): string[] => ['docker', 'run', '--detach', '--name', name, ...args]

/** `-v`: the anonymous volumes its image declares (a registry's storage) go with it. */
export const dockerRemoveArgv = (name: string): string[] => ['docker', 'rm', '--force', '--volumes', name]

export const dockerInspectArgv = (name: string): string[] => ['docker', 'container', 'inspect', '--format', '{{.Id}}', name]

/** docker rm's answer for a container that is not there (moby's errdefs.NotFound: "No such container: NAME"). */
const NOT_THERE = /no such container/i

export async function runContainer(ctx: DoContext, name: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!CONTAINER_NAME.test(name)) throw new Error(`container name ${JSON.stringify(name)} is not one the action gives (kubeadm-single-node-…)`)
  if (!ctx.claim(`container:${name}`)) throw new Error(`the container ${name} is started once per run`)
  const there = await ctx.run(dockerInspectArgv(name), { ...ctx.root, allowFailure: true })
  if (there.exitCode === 0) {
    throw new Error(
      `Docker already has a container named ${name} (${there.stdout.trim().slice(0, 12)}), which this run did not make: an earlier run's that cleanup did not remove? Remove it with \`sudo docker rm -f -v ${name}\`, then run again.`
    )
  }
  await ctx.record({ kind: 'container', name } satisfies ContainerChange)
  return ctx.run(dockerRunArgv(name, args), { ...ctx.root, ...opts })
}

export const container: ChangeKind<ContainerChange> = {
  describe: (c) => `Docker container ${c.name} (created)`,
  async undo(c, u) {
    // recorded before docker run: it may never have been made, or a cleanup ran before
    const r = await u.run(dockerRemoveArgv(c.name), { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (r.exitCode === 0 || NOT_THERE.test(r.stderr)) return 'undone'
    u.fail(`\`${dockerRemoveArgv(c.name).join(' ')}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`)
    return 'failed'
  },
  parse: (f: Fields) => f.done({ kind: 'container', name: f.string('name', CONTAINER_NAME, "a container name the action gives, 'kubeadm-single-node-' and lowercase letters, digits and '-'") })
}
