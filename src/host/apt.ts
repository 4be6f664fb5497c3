// Installing Debian/Ubuntu packages on the host, tolerant of the stale package lists that
// runner images carry, and of third-party lists that fail to refresh.
import { CommandError, lastLines, type Run } from './exec.js'

/**
 * For every apt-get: no debconf question, and no needrestart run after dpkg (Ubuntu's
 * needrestart hook restarts services or asks which to restart; NEEDRESTART_SUSPEND skips it
 * for this apt-get only). Passed with `env`, which survives sudo's environment reset.
 */
export const APT_ENV: Readonly<Record<string, string>> = { DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_SUSPEND: '1' }

export function aptInstallArgv(packages: readonly string[]): string[] {
  return ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
}

export const aptUpdateArgv = ['apt-get', 'update']

/** What the dry run shows for an install: both commands, and when the second runs. */
export function aptInstallShows(packages: readonly string[]): string[] {
  const env = Object.entries(APT_ENV).map(([k, v]) => `${k}=${v}`).join(' ')
  return [`$ sudo ${env} ${aptInstallArgv(packages).join(' ')}`, `  (only if that fails: $ sudo ${env} ${aptUpdateArgv.join(' ')}, then the install once more)`]
}

export interface AptOptions {
  /**
   * Nothing in the run needs the packages: a failed install is a warning (logged), not an
   * error. Default false: the install must succeed.
   */
  optional?: boolean
}

/** True when the packages were installed; false only where `optional` let a failure pass. */
export async function aptInstall(run: Run, packages: readonly string[], log: (line: string) => void, o: AptOptions = {}): Promise<boolean> {
  const env = { ...APT_ENV }
  const install = aptInstallArgv(packages)
  const first = await run(install, { privileged: true, env, allowFailure: true })
  if (first.exitCode === 0) return true
  // Stale package lists are the usual reason on runners: refresh them, but only now (an
  // update costs 15-40 s on a runner), and try once more.
  log(`apt-get install failed; refreshing the package lists: ${lastLines(first.stderr.trim(), 3)}`)
  const update = await run(aptUpdateArgv, { privileged: true, env, allowFailure: true })
  // One list that cannot be fetched (a third-party source) fails the whole update, though
  // the lists the packages come from may have refreshed: the install is tried regardless.
  if (update.exitCode !== 0) log(`apt-get update exited with code ${update.exitCode}; installing anyway: ${lastLines(update.stderr.trim(), 3)}`)
  const second = await run(install, { privileged: true, env, allowFailure: true })
  if (second.exitCode === 0) return true
  const err = new CommandError(install, second)
  if (!o.optional) throw err
  log(`warning: ${packages.join(', ')} not installed, and nothing in this run needs ${packages.length > 1 ? 'them' : 'it'}: ${err.message}`)
  return false
}
