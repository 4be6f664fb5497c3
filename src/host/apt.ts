// Installing Debian/Ubuntu packages on the host, tolerant of the stale package lists that
// runner images carry.
import { lastLines, type Run } from './exec.js'

export function aptInstallArgv(packages: readonly string[]): string[] {
  return ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
}

export async function aptInstall(run: Run, packages: readonly string[], log: (line: string) => void): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  const install = aptInstallArgv(packages)
  const first = await run(install, { privileged: true, env, allowFailure: true })
  if (first.exitCode === 0) return
  // Stale package lists are the usual reason on runners; refresh once and try again.
  log(`apt-get install failed; refreshing the package lists: ${lastLines(first.stderr.trim(), 3)}`)
  await run(['apt-get', 'update'], { privileged: true, env })
  await run(install, { privileged: true, env })
}

