// A network interface that did not exist before the action started what makes it (a CNI's
// bridge or VXLAN device), or that the action makes itself (an add-on's dummy interface that
// holds routes). The undo deletes it, where it was made, and the kernel drops its routes with it.
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

/**
 * The commands that make a dummy interface holding routes to `cidrs` (none is a local address).
 * `route add`, not `replace`: a route the host already has for the same network (a VPN's, an
 * administrator's) makes it fail, where `replace` would take that route over, and cleanup,
 * deleting the interface, would not bring it back. The name follows `name` or `dev`, the
 * keywords iproute2 takes it after, so that no name is read as an option or a keyword.
 */
export function dummyInterfaceArgvs(name: string, cidrs: readonly string[]): string[][] {
  return [['ip', 'link', 'add', 'name', name, 'type', 'dummy'], ['ip', 'link', 'set', 'dev', name, 'up'], ...cidrs.map((c) => ['ip', 'route', 'add', c, 'dev', name])]
}

/**
 * A dummy interface (an interface that carries nothing) routing `cidrs` to it, recorded before
 * it is made: the undo deletes it, and its routes go with it. One by that name already there
 * (the action's own, an earlier run's or this step's before a retry) is deleted first, so
 * that it holds these routes and no others.
 */
export async function createDummyInterface(ctx: DoContext, name: string, cidrs: readonly string[]): Promise<void> {
  if (await ctx.exists(join(ctx.sysClassNet, name))) await ctx.run(['ip', 'link', 'delete', 'dev', name], ctx.root)
  await willCreateInterface(ctx, name)
  for (const argv of dummyInterfaceArgvs(name, cidrs)) await ctx.run(argv, ctx.root)
}

export const networkInterface: ChangeKind<InterfaceChange> = {
  describe: (c) => `network interface ${c.name} (created)`,
  async undo(c, u) {
    // recorded before the CNI ran: it may never have made it
    if (!(await u.exists(join(u.sysClassNet, c.name)))) return 'undone'
    return (await u.exec(['ip', 'link', 'delete', 'dev', c.name])) ? 'undone' : 'failed'
  },
  // the kernel's rule for an interface name (dev_valid_name): at most 15 bytes, no '/', ':'
  // or space; never one of the host's own (lo is the one every host has), nor a leading '-'
  // (one a tool could read as an option)
  parse: (f: Fields) => f.done({ kind: 'interface', name: f.string('name', /^(?!lo$)(?!-)(?!\.\.?$)[A-Za-z0-9_.-]{1,15}$/, 'a network interface name the action or its CNI makes, such as cni0 or flannel.1') })
}
