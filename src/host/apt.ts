// Installing Debian/Ubuntu packages on the host, tolerant of the stale package lists that
// runner images carry.
import { lastLines } from './exec.js'
import type { StepContext } from '../plan.js'

export async function aptInstall(ctx: StepContext, packages: string[]): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
  const first = await ctx.host.run(install, { privileged: true, env, allowFailure: true })
  if (first.exitCode === 0) return
  // Stale package lists are the usual reason on runners; refresh once and try again.
  ctx.log(`apt-get install failed; refreshing the package lists: ${lastLines(first.stderr.trim(), 3)}`)
  await ctx.host.run(['apt-get', 'update'], { privileged: true, env })
  await ctx.host.run(install, { privileged: true, env })
}
