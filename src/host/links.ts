// Root commands on paths in directories a user owns (~/.kube, ~/.docker, the runner's temp
// directory, a workspace): cp, chown, cat and install resolve every symbolic link on the way,
// so a link left there by an earlier job on a self-hosted runner (~/.kube -> /etc, or
// config.json -> /etc/shadow) would turn the action's root into a tool for reading or
// overwriting any file. Before such a command, every component of the path is looked at
// with lstat (no link followed): a link that someone other than root could have made or
// replaced is refused. Links root made in root's own directories (/var/run -> /run) are
// trusted, as root is trusted there anyway.
import { lstat, readlink } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import type { Stats } from 'node:fs'

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code

/** A directory others than root may change: not root's, or writable by group or others without the sticky bit. */
function othersMayChange(dir: Stats): boolean {
  return dir.uid !== 0 || ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0)
}

/**
 * Why a root command on `path` could be led elsewhere by a link, or undefined when it could
 * not: the first component that is a symbolic link owned by someone other than root, or in a
 * directory someone other than root may change. A component that does not exist ends the walk
 * (nothing below it can be a link yet); one this process may not look at lies in a directory
 * only root may search, which no user can have planted anything in. `o.lastOnly`: only the path
 * itself is looked at, not the directories above it.
 */
export async function untrustedLink(path: string, o: { lastOnly?: boolean } = {}): Promise<string | undefined> {
  const abs = resolve(path)
  const parts = abs.split(sep).filter((p) => p !== '')
  let at = ''
  for (const [i, part] of parts.entries()) {
    at = `${at}/${part}`
    if (o.lastOnly && i < parts.length - 1) continue
    let st: Stats
    try {
      st = await lstat(at)
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'EACCES'].includes(code(err) ?? '')) return undefined
      throw err
    }
    if (!st.isSymbolicLink()) continue
    const parent = await lstat(dirname(at))
    if (st.uid === 0 && !othersMayChange(parent)) continue
    const target = await readlink(at).catch(() => '?')
    const who = st.uid !== 0 ? `owned by uid ${st.uid}` : `in ${dirname(at)}, which uid ${parent.uid} ${parent.uid === 0 ? 'lets others write to' : 'owns'}`
    return `${at} is a symbolic link (to ${target}) ${who}, which a root command would follow`
  }
  return undefined
}

/**
 * Throws before a root command touches `path` through a link a user controls. `doing` says
 * what was about to happen, for the message ("back up ~/.kube/config").
 */
export async function refuseUntrustedLink(path: string, doing: string, o: { lastOnly?: boolean } = {}): Promise<void> {
  const why = await untrustedLink(path, o)
  if (why !== undefined) {
    throw new Error(`Refusing to ${doing} as root: ${why}. Nothing was done to it. Remove the link (or put a regular file or directory there) and run again.`)
  }
}
