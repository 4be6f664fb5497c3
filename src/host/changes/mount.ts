// A filesystem a CNI's pod mounts on the host and leaves (calico's cgroup2 under /run/calico):
// recorded before the CNI runs where nothing is mounted there; the undo unmounts it.
import { readFile } from 'node:fs/promises'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface MountChange {
  kind: 'mount'
  path: string
}

/** /proc/swaps and the mount table write a space in a path as \040, as fstab does. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** Whether the mount table (/proc/self/mounts: device, mount point, type, ...) has a mount at `path`. */
export async function isMountPoint(table: string, path: string): Promise<boolean> {
  const text = await readFile(table, 'utf8')
  return text.split('\n').some((l) => l.split(' ')[1] !== undefined && unescapeMountPath(l.split(' ')[1]) === path)
}

export function willMount(ctx: DoContext, path: string): Promise<void> {
  return ctx.once(`mount:${path}`, async () => {
    if (!(await isMountPoint(ctx.procMounts, path))) await ctx.record({ kind: 'mount', path } satisfies MountChange)
  })
}

export const mount: ChangeKind<MountChange> = {
  describe: (c) => `${c.path} (mounted)`,
  async undo(c, u) {
    // recorded before the CNI ran: it may never have mounted it
    if (!(await isMountPoint(u.procMounts, c.path))) return 'undone'
    return (await u.exec(['umount', c.path])) ? 'undone' : 'failed'
  },
  parse: (f: Fields) => f.done({ kind: 'mount', path: f.path('path') })
}
