// A file the action writes: what was there is copied aside first (`cp -a`: content, mode,
// owner, a symbolic link as a link), or recorded as absent; the undo puts it back, or
// removes what the action made.
import { basename, dirname } from 'node:path'
import type { Fields } from './fields.js'
import { ownerArgs, octal, type ChangeKind, type DoContext, type FileOptions } from './kind.js'

export interface FileChange {
  kind: 'file'
  path: string
  /** the original, absent when there was none */
  backup?: string
}

export function installArgv(src: string, dest: string, o: FileOptions = {}): string[] {
  return ['install', '-D', '-m', octal(o.mode ?? 0o644), ...ownerArgs(o), src, dest]
}

/** Before a file is written: what was there, backed up whole, recorded once per path. */
export function claimFile(ctx: DoContext, path: string): Promise<void> {
  return ctx.once(path, async () => {
    await ctx.claimMissingDirs(dirname(path))
    if (!(await ctx.exists(path))) return ctx.record({ kind: 'file', path } satisfies FileChange)
    // unique across runs: an earlier run's backup is never overwritten
    const backup = await ctx.backupPath(basename(path))
    await ctx.run(['cp', '-a', path, backup], ctx.root)
    await ctx.record({ kind: 'file', path, backup } satisfies FileChange)
  })
}

/** A file of the action's own beside the backups (root only), removed by cleanup once the undo recorded after it has used it. */
export async function keepFile(ctx: DoContext, name: string, content: string): Promise<string> {
  const path = await ctx.backupPath(name)
  ctx.claim(path)
  await ctx.record({ kind: 'file', path } satisfies FileChange)
  await ctx.staged(content, async (tmp) => void (await ctx.run(installArgv(tmp, path, { mode: 0o600 }), ctx.root)))
  return path
}

export const file: ChangeKind<FileChange> = {
  describe: (c) => (c.backup ? `${c.path} (changed; original kept at ${c.backup})` : `${c.path} (created)`),
  async undo(c, u) {
    if (!c.backup) return (await u.exec(['rm', '-f', c.path])) ? 'undone' : 'failed'
    // copied beside it, then renamed over it: the path is never without a file, and a
    // missing backup (a cleanup run twice) leaves what is there alone
    const tmp = `${c.path}.kubeadm-single-node-restore`
    const ok = (await u.exec(['cp', '-a', c.backup, tmp])) && (await u.exec(['mv', '-fT', tmp, c.path])) && (await u.exec(['rm', '-f', c.backup]))
    return ok ? 'undone' : 'failed'
  },
  parse: (f: Fields) => {
    const path = f.path('path')
    const backup = f.optionalPath('backup')
    return f.done(backup === undefined ? { kind: 'file', path } : { kind: 'file', path, backup })
  }
}
