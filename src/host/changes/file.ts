// A file the action writes: what was there is copied aside first (`cp -a`: content, mode,
// owner, a symbolic link as a link), or recorded as absent; the undo puts it back, or
// removes what the action made. A path in a directory a user owns (~/.kube/config,
// ~/.docker/config.json) is reached through no link that user could have planted: root's
// cp, install, mv and rm would follow it (host/links.ts).
import { lstat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { refuseUntrustedLink, untrustedLink } from '../links.js'
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
    await refuseUntrustedLink(path, `write ${path}`)
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

/** The owner of `dir` when it is not root's (~/.kube): whom to restore a file there as. The original goes through standard input as text: what the action backs up in such directories is a kubeconfig or Docker's config.json. */
async function userOwner(dir: string): Promise<{ uid: number; gid: number } | undefined> {
  const st = await lstat(dir).catch(() => undefined)
  // a directory this process may not look at is one only root may search (see links.ts)
  if (st === undefined || st.uid === 0) return undefined
  return { uid: st.uid, gid: st.gid }
}

export const file: ChangeKind<FileChange> = {
  describe: (c) => (c.backup ? `${c.path} (changed; original kept at ${c.backup})` : `${c.path} (created)`),
  async undo(c, u) {
    // copied beside it, then renamed over it: the path is never without a file, and a
    // missing backup (a cleanup run twice) leaves what is there alone
    const tmp = `${c.path}.kubeadm-single-node-restore`
    // the file, and the copy's name beside it, may lie in a user's directory since the run
    for (const p of c.backup ? [c.path, tmp] : [c.path]) {
      const why = await untrustedLink(p)
      if (why !== undefined) {
        u.fail(`${c.backup ? `${c.path} was not put back` : `${c.path} was not removed`}: ${why}; nothing was done to it as root. Remove the link, then put the original back from ${c.backup ?? '(none: the action made the file)'} yourself.`)
        return 'failed'
      }
    }
    if (!c.backup) return (await u.exec(['rm', '-f', c.path])) ? 'undone' : 'failed'
    // The backup is safe to read as root: its path comes from the ledger (root's, checked
    // before any undo runs) and it lies in the backup directory, root's and 0700 inside root's
    // 0700 directory (host.ts backupPath), where no user can put a link. The destination is
    // not: in a directory a user owns (~/.kube, ~/.docker), the look above and root's cp and mv
    // are separate steps, and ~/.kube made a link to /etc in between would have root write the
    // original over /etc/config. There the copy and the rename are made as that user
    // (setpriv), who may follow their own links only to where they may write anyway.
    const owner = await userOwner(dirname(c.path))
    if (owner !== undefined) {
      const read = await u.run(['cat', '--', c.backup], { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
      const mode = await u.run(['stat', '-c', '%a', '--', c.backup], { privileged: true, allowFailure: true }).catch(() => ({ exitCode: -1, stdout: '', stderr: '' }))
      if (read.exitCode !== 0 || mode.exitCode !== 0 || !/^[0-7]{3,4}$/.test(mode.stdout.trim())) {
        u.fail(`${c.path} was not put back: its original ${c.backup} could not be read (${read.stderr.trim() || 'stat failed'})`)
        return 'failed'
      }
      const as = ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--']
      const wrote = await u.run([...as, 'tee', '--', tmp], { privileged: true, allowFailure: true, input: read.stdout }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
      if (wrote.exitCode !== 0) {
        u.fail(`${c.path} was not put back as uid ${owner.uid}: ${wrote.stderr.trim()}. The original is at ${c.backup}.`)
        return 'failed'
      }
      const ok = (await u.exec([...as, 'chmod', mode.stdout.trim(), tmp])) && (await u.exec([...as, 'mv', '-fT', tmp, c.path])) && (await u.exec(['rm', '-f', c.backup]))
      return ok ? 'undone' : 'failed'
    }
    // --remove-destination: cp unlinks the name and creates it anew (O_EXCL) instead of opening
    // what is there, so a link put at that name after the look above is replaced, not written
    // through; mv's rename replaces a link at the path itself without following it
    const ok = (await u.exec(['cp', '-a', '--remove-destination', c.backup, tmp])) && (await u.exec(['mv', '-fT', tmp, c.path])) && (await u.exec(['rm', '-f', c.backup]))
    return ok ? 'undone' : 'failed'
  },
  parse: (f: Fields) => {
    const path = f.path('path')
    const backup = f.optionalKept('backup')
    return f.done(backup === undefined ? { kind: 'file', path } : { kind: 'file', path, backup })
  }
}
