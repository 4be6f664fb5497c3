// A unit reloaded during cleanup with a file of the action's own in place of its
// configuration, before the original comes back: for a daemon whose reload keeps a setting
// the original file leaves out (dockerd keeps registry-mirrors unless the file sets the key:
// moby's reloadRegistryConfig checks IsValueSet). The file is kept beside the backups,
// recorded before this change so that cleanup removes it after using it.
import type { Fields } from './fields.js'
import { installArgv, keepFile } from './file.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface ReloadWithChange {
  kind: 'reload-with'
  unit: string
  /** the unit's configuration file */
  path: string
  /** what is put there for the reload, kept beside the backups */
  kept: string
}

/** Keeps `content` and records that cleanup reloads `unit` with it at `path` (undone before the file itself is put back). */
export async function reloadOnUndo(ctx: DoContext, unit: string, path: string, name: string, content: string): Promise<void> {
  const kept = await keepFile(ctx, name, content)
  await ctx.record({ kind: 'reload-with', unit, path, kept } satisfies ReloadWithChange)
}

export const reloadWith: ChangeKind<ReloadWithChange> = {
  describe: (c) => `${c.unit} reloaded with ${c.kept} at ${c.path}`,
  async undo(c, u) {
    const ok = (await u.exec(installArgv(c.kept, c.path))) && (await u.exec(['systemctl', 'reload', '--', c.unit]))
    return ok ? 'undone' : 'failed'
  },
  parse: (f: Fields) => f.done({ kind: 'reload-with', unit: f.unit('unit'), path: f.path('path'), kept: f.kept('kept') })
}
