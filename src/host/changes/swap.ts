// Swap: the kubelet refuses to run with it on. The devices that were on are recorded, turned
// off, and turned back on by the undo.
import { readFile } from 'node:fs/promises'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'
import { unescapeMountPath } from './mount.js'

export interface SwapOffChange {
  kind: 'swap-off'
  devices: string[]
}

/** Turns every active swap device off; returns them. */
export async function swapOff(ctx: DoContext): Promise<string[]> {
  const devices = (await readFile(ctx.procSwaps, 'utf8').catch(() => ''))
    .split('\n')
    .slice(1)
    .map((l) => unescapeMountPath(l.split(/\s+/)[0]))
    .filter((d) => d)
    // one path twice: /proc/swaps is the kernel's, and lists a swapfile of another mount
    // namespace under its own path; swapoff refuses a path given twice
    .filter((d, i, all) => all.indexOf(d) === i)
  if (devices.length === 0) return []
  await ctx.record({ kind: 'swap-off', devices } satisfies SwapOffChange)
  // exactly the devices recorded: what cleanup turns back on
  await ctx.run(['swapoff', ...devices], ctx.root)
  return devices
}

export const swap: ChangeKind<SwapOffChange> = {
  describe: (c) => `swap off (${c.devices.join(', ')})`,
  async undo(c, u) {
    // a device the failed swapoff left on is on already: swapon would refuse it
    const on = await readFile(u.procSwaps, 'utf8').catch(() => '')
    let ok = true
    for (const d of c.devices) if (!on.split('\n').some((l) => l.split(/\s+/)[0] === d)) ok = (await u.exec(['swapon', d])) && ok
    return ok ? 'undone' : 'failed'
  },
  // a swap device or file may be anywhere on the host: an absolute, normal path, no option
  parse: (f: Fields) => f.done({ kind: 'swap-off', devices: f.strings('devices', /^\/(?!.*(^|\/)\.\.?(\/|$))[^\0\n]*$/, 'absolute paths of swap devices or files') })
}
