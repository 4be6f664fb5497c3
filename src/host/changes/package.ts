// Packages installed with apt-get. Left in place by cleanup: removing packages can take what
// the host relied on with them.
import { aptInstall, type AptOptions } from '../apt.js'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface PackagesInstalledChange {
  kind: 'packages-installed'
  packages: string[]
}

/** apt-get install, one at a time (two would fight over dpkg's lock): `queue` holds the turn. */
export function packageInstaller(ctx: DoContext): (packages: readonly string[], log: (line: string) => void, o?: AptOptions) => Promise<void> {
  let queue: Promise<unknown> = Promise.resolve()
  return (packages, log, o) => {
    const mine = queue.then(async () => {
      // recorded once installed, unlike every other change: cleanup never removes packages,
      // and a record made before an install that then failed would say they were installed
      if (await aptInstall(ctx.run, packages, log, o)) await ctx.record({ kind: 'packages-installed', packages: [...packages] } satisfies PackagesInstalledChange)
    })
    queue = mine.catch(() => {})
    return mine
  }
}

export const installedPackage: ChangeKind<PackagesInstalledChange> = {
  describe: (c) => `packages installed: ${c.packages.join(', ')}`,
  undo: async () => 'left',
  leftInPlace: true,
  // Debian's package names (policy 5.6.1), with an optional architecture
  parse: (f: Fields) => f.done({ kind: 'packages-installed', packages: f.strings('packages', /^[a-z0-9][a-z0-9+.-]{1,100}(:[a-z0-9]+)?$/, 'Debian package names') })
}
