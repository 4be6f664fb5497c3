// systemd, as the action drives it. The argv builders are shared by the run and the dry
// run, so what the plan prints is what the host runs.
import type { Run } from './exec.js'

export type ServiceAction = 'daemon-reload' | 'enable' | 'restart' | 'reload'

/** `--` before the unit: a name is never read as an option (the ledger's parser refuses a leading '-' too). */
export function systemctlArgv(action: ServiceAction | 'disable' | 'stop' | 'is-enabled' | 'is-active', unit?: string): string[] {
  return action === 'daemon-reload' ? ['systemctl', 'daemon-reload'] : ['systemctl', action, '--', unit ?? '']
}

export function journalArgv(unit: string, lines: number): string[] {
  return ['journalctl', '-u', unit, '-n', String(lines), '--no-pager', '-o', 'cat']
}

/** The unit's whole journal, each line with its time to the microsecond (for the diagnostics archive). */
export function fullJournalArgv(unit: string): string[] {
  return ['journalctl', '-u', unit, '--no-pager', '-o', 'short-iso-precise']
}

/** The host's service manager. Tests and the test bed put their own daemons behind it. */
export interface ServiceManager {
  act(action: ServiceAction, unit?: string): Promise<void>
  /** `systemctl is-enabled` and `is-active`, read before a unit is changed */
  status(unit: string): Promise<{ enabled: string; active: boolean }>
  disable(unit: string, stop: boolean): Promise<void>
  /** the unit's last log lines, for errors and diagnostics */
  logs(unit: string, lines: number): Promise<string>
}

export function systemd(run: Run): ServiceManager {
  return {
    act: async (action, unit) => void (await run(systemctlArgv(action, unit), { privileged: true })),
    async status(unit) {
      const [enabled, active] = await Promise.all([
        run(systemctlArgv('is-enabled', unit), { allowFailure: true }),
        run(systemctlArgv('is-active', unit), { allowFailure: true })
      ])
      // is-enabled prints nothing on stdout for a unit that does not exist
      return { enabled: enabled.stdout.trim() || 'not-found', active: active.exitCode === 0 }
    },
    async disable(unit, stop) {
      await run(stop ? ['systemctl', 'disable', '--now', '--', unit] : systemctlArgv('disable', unit), { privileged: true })
    },
    logs: async (unit, lines) => (await run(journalArgv(unit, lines), { privileged: true, allowFailure: true })).stdout
  }
}
