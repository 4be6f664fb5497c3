// Kernel modules: the ones not loaded yet are recorded, then all are loaded. Left in place
// by cleanup: unloading a module another user of the host may rely on is not safe.
import { join } from 'node:path'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface ModulesLoadedChange {
  kind: 'modules-loaded'
  modules: string[]
}

export function modprobeArgv(modules: readonly string[]): string[] {
  return ['modprobe', '-a', ...modules]
}

export async function loadModules(ctx: DoContext, modules: readonly string[]): Promise<void> {
  const loaded = await Promise.all(modules.map((m) => ctx.exists(join(ctx.sysModuleDir, m))))
  const added = modules.filter((_, i) => !loaded[i])
  if (added.length > 0) await ctx.record({ kind: 'modules-loaded', modules: added } satisfies ModulesLoadedChange)
  await ctx.run(modprobeArgv(modules), ctx.root)
}

export const kernelModule: ChangeKind<ModulesLoadedChange> = {
  describe: (c) => `kernel modules loaded: ${c.modules.join(', ')}`,
  undo: async () => 'left',
  leftInPlace: true,
  parse: (f: Fields) => f.done({ kind: 'modules-loaded', modules: f.strings('modules', /^[A-Za-z0-9_-]{1,64}$/, 'kernel module names') })
}
