// A network interface that did not exist before the action started what makes it (a CNI's
// bridge or VXLAN device). The undo deletes it, where it was made.
import { join } from 'node:path'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface InterfaceChange {
  kind: 'interface'
  name: string
}

export function willCreateInterface(ctx: DoContext, name: string): Promise<void> {
  return ctx.once(`interface:${name}`, async () => {
    if (!(await ctx.exists(join(ctx.sysClassNet, name)))) await ctx.record({ kind: 'interface', name } satisfies InterfaceChange)
  })
}

export const networkInterface: ChangeKind<InterfaceChange> = {
  describe: (c) => `network interface ${c.name} (created)`,
  async undo(c, u) {
    // recorded before the CNI ran: it may never have made it
    if (!(await u.exists(join(u.sysClassNet, c.name)))) return 'undone'
    return (await u.exec(['ip', 'link', 'delete', c.name])) ? 'undone' : 'failed'
  },
  // the kernel's rule for an interface name (dev_valid_name): at most 15 bytes, no '/', ':'
  // or space; and never one of the host's own (lo is the one every host has)
  parse: (f: Fields) => f.done({ kind: 'interface', name: f.string('name', /^(?!lo$)(?!\.\.?$)[A-Za-z0-9_.-]{1,15}$/, 'a network interface name the action\'s CNI makes, such as cni0 or flannel.1') })
}
