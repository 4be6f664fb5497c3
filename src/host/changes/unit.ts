// systemd units: enabled, restarted or reloaded by the action, and systemd's own reload.
// What a unit was (enabled? running?) is read before it is changed. The undo disables what
// was not enabled at once; restarts and reloads happen once, after every file is back, so
// a unit comes back with its original configuration.
import type { ServiceAction } from '../services.js'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

/** `systemctl enable`; `was` is what `is-enabled` said before */
export interface UnitEnabledChange {
  kind: 'unit-enabled'
  unit: string
  was: string
  wasActive: boolean
}
export interface UnitRestartedChange {
  kind: 'unit-restarted'
  unit: string
  wasActive: boolean
}
export interface UnitReloadedChange {
  kind: 'unit-reloaded'
  unit: string
}
export interface UnitsReloadedChange {
  kind: 'units-reloaded'
}

export async function actOnUnit(ctx: DoContext, action: ServiceAction, unit = ''): Promise<void> {
  if (action === 'enable') {
    const s = await ctx.services.status(unit)
    await ctx.record({ kind: 'unit-enabled', unit, was: s.enabled, wasActive: s.active } satisfies UnitEnabledChange)
  } else if (action === 'restart') {
    await ctx.record({ kind: 'unit-restarted', unit, wasActive: (await ctx.services.status(unit)).active } satisfies UnitRestartedChange)
  } else if (action === 'reload') {
    await ctx.record({ kind: 'unit-reloaded', unit } satisfies UnitReloadedChange)
  } else {
    await ctx.record({ kind: 'units-reloaded' } satisfies UnitsReloadedChange)
  }
  await ctx.services.act(action, unit)
}

/** what `systemctl is-enabled` prints */
const ENABLED_STATE = /^[a-z-]{1,40}$/

export const unitEnabled: ChangeKind<UnitEnabledChange> = {
  describe: (c) => `${c.unit} enabled (was ${c.was})`,
  async undo(c, u) {
    if (c.was === 'enabled') return 'undone'
    try {
      await u.services.disable(c.unit, !c.wasActive)
    } catch (err) {
      u.fail((err as Error).message)
      return 'failed'
    }
    if (!c.wasActive) u.later.stopped.add(c.unit)
    return 'undone'
  },
  parse: (f: Fields) => f.done({ kind: 'unit-enabled', unit: f.unit('unit'), was: f.string('was', ENABLED_STATE, "what systemctl is-enabled prints, such as 'disabled'"), wasActive: f.bool('wasActive') })
}

export const unitRestarted: ChangeKind<UnitRestartedChange> = {
  describe: (c) => `${c.unit} restarted`,
  async undo(c, u) {
    u.later.units.set(c.unit, c.wasActive ? 'restart' : 'stop')
    return 'undone'
  },
  parse: (f: Fields) => f.done({ kind: 'unit-restarted', unit: f.unit('unit'), wasActive: f.bool('wasActive') })
}

export const unitReloaded: ChangeKind<UnitReloadedChange> = {
  describe: (c) => `${c.unit} reloaded`,
  async undo(c, u) {
    if (!u.later.units.has(c.unit)) u.later.units.set(c.unit, 'reload')
    return 'undone'
  },
  parse: (f: Fields) => f.done({ kind: 'unit-reloaded', unit: f.unit('unit') })
}

export const unitsReloaded: ChangeKind<UnitsReloadedChange> = {
  describe: () => 'systemd units reloaded',
  async undo(_c, u) {
    u.later.daemonReload = true
    return 'undone'
  },
  parse: (f: Fields) => f.done({ kind: 'units-reloaded' })
}
