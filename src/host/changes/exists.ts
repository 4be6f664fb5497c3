import { lstat } from 'node:fs/promises'
import type { Run } from '../exec.js'

/**
 * Whether a path exists (a dangling link counts). Read with Node, which needs no privilege
 * for most of what the action touches; inside a directory only root may search (containerd
 * makes /etc/cni/net.d 0700), asked as root.
 */
export async function existsAs(run: Run, path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    if (code !== 'EACCES') throw new Error(`cannot tell whether ${path} exists: ${(err as Error).message}`, { cause: err })
    return (await run(['stat', '-c', '%F', path], { privileged: true, allowFailure: true })).exitCode === 0
  }
}
