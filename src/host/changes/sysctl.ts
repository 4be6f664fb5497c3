// Kernel parameters: the live values of the keys a sysctl.d file sets are recorded, the file
// applied, and the undo writes the recorded values back.
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

/** live values before `sysctl -p` */
export interface SysctlChange {
  kind: 'sysctl'
  values: Record<string, string>
}

export function sysctlApplyArgv(file: string): string[] {
  return ['sysctl', '-p', file]
}

/** Applies a sysctl.d file, recording the live values of `keys` first. */
export async function applySysctls(ctx: DoContext, file: string, keys: readonly string[]): Promise<void> {
  const values: Record<string, string> = {}
  for (const key of keys) {
    const r = await ctx.run(['sysctl', '-n', key], { allowFailure: true })
    // a key that does not exist yet (bridge keys before br_netfilter) has nothing to restore
    if (r.exitCode === 0) values[key] = r.stdout.trim()
  }
  await ctx.record({ kind: 'sysctl', values } satisfies SysctlChange)
  await ctx.run(sysctlApplyArgv(file), ctx.root)
}

/**
 * The keys the action sets, and only those: net.ipv4.ip_forward and the bridge's
 * nf-call keys (src/render/host.ts). A value is what `sysctl -n` printed for them: a number.
 */
const KEY = /^net\.(ipv4\.ip_forward|bridge\.bridge-nf-call-ip6?tables)$/
const VALUE = /^-?[0-9]{1,20}$/

export const sysctl: ChangeKind<SysctlChange> = {
  describe: (c) => `sysctl ${Object.entries(c.values).map(([k, v]) => `${k} (was ${v})`).join(', ')}`,
  async undo(c, u) {
    let ok = true
    for (const [k, v] of Object.entries(c.values)) ok = (await u.exec(['sysctl', '-w', `${k}=${v}`])) && ok
    return ok ? 'undone' : 'failed'
  },
  parse: (f: Fields) => f.done({ kind: 'sysctl', values: f.map('values', KEY, VALUE, 'the keys the action sets (net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables, -ip6tables), each with a number') })
}
