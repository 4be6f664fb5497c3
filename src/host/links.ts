// Root commands on paths in directories a user owns (~/.kube, ~/.docker, the runner's temp
// directory, a workspace): cp, chown, cat and install resolve every symbolic link on the way,
// so a link left there by an earlier job on a self-hosted runner (~/.kube -> /etc, or
// config.json -> /etc/shadow) would turn the action's root into a tool for reading or
// overwriting any file. Before such a command, every component of the path is looked at
// with lstat (no link followed): a link that someone other than root could have made or
// replaced is refused. Links root made in root's own directories (/var/run -> /run) are
// trusted, as root is trusted there anyway.
import { constants, type Stats } from 'node:fs'
import { lstat, open, readlink, realpath } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { isRoot, type Run } from './exec.js'

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

/**
 * A file's text, read as this process and never through a symbolic link at its own name
 * (O_NOFOLLOW: ELOOP). For a file in a directory a user owns: a check with lstat followed by
 * a separate read can be raced (the file made a link in between), one open cannot. Read as
 * the runner user, a link above it would only lead to what that user may read anyway; this
 * process may be root, though (a self-hosted runner's service, a container), so then the
 * file the kernel opened must also be the one at that place (its /proc/self/fd name), not one
 * a link swapped into a directory above it led to. Only regular files (not a FIFO that would
 * hang, nor a device). Errors keep their code: ENOENT, EACCES, ELOOP.
 */
export async function readNoFollow(path: string): Promise<string> {
  const abs = resolve(path)
  const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error(`${abs} is not a regular file`), { code: 'EINVAL' })
    if (isRoot()) {
      const opened = await readlink(`/proc/self/fd/${fh.fd}`)
      const expected = await placeOf(abs)
      if (opened !== expected) throw Object.assign(new Error(`${abs} was reached through a symbolic link (it opened ${opened}), which root does not follow here`), { code: 'ELOOP' })
    }
    return await fh.readFile('utf8')
  } finally {
    await fh.close()
  }
}

/**
 * Where `abs` lies with only the links root controls resolved (/var/run -> /run): the part
 * from the first directory someone other than root may change stays as written, so a link
 * there makes the kernel's name for an opened file differ from this.
 */
async function placeOf(abs: string): Promise<string> {
  const parts = abs.split(sep).filter((p) => p !== '')
  let at = '/'
  for (const [i, part] of parts.entries()) {
    if (othersMayChange(await lstat(at))) return join(at, ...parts.slice(i))
    const next = join(at, part)
    const st = await lstat(next).catch(() => undefined)
    if (st === undefined) return join(at, ...parts.slice(i))
    at = st.isSymbolicLink() ? await realpath(next) : next
  }
  return at
}

/**
 * The real path of `path` when root alone could have put it there: it, and every directory
 * from / down to it, reached with every link resolved, lie in directories root owns and no one
 * else may write to (not even with the sticky bit: a user's own file in /tmp is theirs to
 * replace). Asked as root (`realpath`, `stat`), as only root may look into some of them.
 * Undefined otherwise, or where it does not exist: a root read of that path could be led
 * elsewhere by a user, so none is made. What a read as root falls back to only in such places
 * (/etc, /var/log/pods).
 */
export async function rootOnlyPath(run: Run, path: string): Promise<string | undefined> {
  const r = await run(['realpath', '-e', '--', path], { privileged: true, allowFailure: true }).catch(() => undefined)
  if (r?.exitCode !== 0) return undefined
  const real = r.stdout.replace(/\n$/, '')
  if (!real.startsWith('/') || real.includes('\n')) return undefined
  const dirs: string[] = []
  for (let d = dirname(real); ; d = dirname(d)) {
    dirs.push(d)
    if (d === '/') break
  }
  const s = await run(['stat', '-c', '%u %f', '--', ...dirs], { privileged: true, allowFailure: true }).catch(() => undefined)
  const lines = s?.exitCode === 0 ? s.stdout.trim().split('\n') : []
  if (lines.length !== dirs.length) return undefined
  const rootOnly = lines.every((l) => {
    const [uid, hex] = l.split(' ')
    return uid === '0' && (parseInt(hex, 16) & 0o022) === 0
  })
  return rootOnly ? real : undefined
}
