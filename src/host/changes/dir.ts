// A directory that did not exist: made by the action (install -d, or install -D for a
// file's parents) or by what it starts (kubeadm, a CNI, a runtime). The undo removes it with
// everything in it.
import type { Fields } from './fields.js'
import { ownerArgs, octal, type ChangeKind, type DoContext, type FileOptions } from './kind.js'
import { dirname } from 'node:path'
import { refuseUntrustedLink, untrustedLink } from '../links.js'

export interface DirChange {
  kind: 'dir'
  path: string
}

export function mkdirArgv(path: string, o: FileOptions = {}): string[] {
  return ['install', '-d', '-m', octal(o.mode ?? 0o755), ...ownerArgs(o), path]
}

/**
 * Records the directories that do not exist yet on the way to `dir`, topmost first. One above
 * every place the action writes to (/opt, where /opt/cni/bin is made) is made and left: the
 * ledger accepts no path outside those places, and other software may use it after the run.
 */
export async function claimMissingDirs(ctx: Pick<DoContext, 'exists' | 'claim' | 'record' | 'undoable'>, dir: string): Promise<void> {
  const missing: string[] = []
  for (let d = dir; d !== dirname(d) && !(await ctx.exists(d)); d = dirname(d)) missing.unshift(d)
  for (const d of missing) if (ctx.undoable(d) && ctx.claim(d)) await ctx.record({ kind: 'dir', path: d } satisfies DirChange)
}

export async function ensureDir(ctx: DoContext, path: string, o: FileOptions = {}): Promise<void> {
  if (await ctx.exists(path)) return
  // install -d would follow a link a user planted on the way (~/.docker -> /etc)
  await refuseUntrustedLink(path, `make the directory ${path}`)
  await ctx.claimMissingDirs(path)
  await ctx.run(mkdirArgv(path, o), ctx.root)
}

/** Something the action starts will make this directory: cleanup removes it if it is absent now. */
export function willCreateDir(ctx: DoContext, path: string): Promise<void> {
  return ctx.once(path, async () => {
    if (await ctx.exists(path)) return
    await ctx.claimMissingDirs(dirname(path))
    await ctx.record({ kind: 'dir', path } satisfies DirChange)
  })
}

export const dir: ChangeKind<DirChange> = {
  describe: (c) => `${c.path}/ (created)`,
  // never into another filesystem mounted below it (a CNI's cgroup2 mount whose unmount
  // failed): rm would delete the host's empty cgroups there
  async undo(c, u) {
    // rm removes a link in the last place without following it, but follows one above it
    // (~/.kube made by the action, its home's path now through a user's link)
    const why = await untrustedLink(dirname(c.path))
    if (why !== undefined) {
      u.fail(`${c.path}/ was not removed: ${why}; nothing was done to it as root. Remove the link, then ${c.path} yourself.`)
      return 'failed'
    }
    return (await u.exec(['rm', '-rf', '--one-file-system', c.path])) ? 'undone' : 'failed'
  },
  parse: (f: Fields) => f.done({ kind: 'dir', path: f.path('path') })
}
