// What the plan does to a host: commands, files, services. The real host writes root-owned
// files through `install` (with sudo when not root); tests pass their own paths and service
// manager so that real daemons run the same code under a temporary root.
import { randomUUID } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Run } from './exec.js'

export interface ServiceManager {
  /** systemctl daemon-reload, where there is such a thing */
  reload(): Promise<void>
  /** starts at boot; kubeadm init starts the kubelet itself */
  enable(unit: string): Promise<void>
  restart(unit: string): Promise<void>
  /** the unit's last log lines, for errors and diagnostics */
  logs(unit: string, lines: number): Promise<string>
}

export interface Host {
  run: Run
  services: ServiceManager
  writeFile(path: string, content: string, mode?: number): Promise<void>
}

export function systemd(run: Run): ServiceManager {
  return {
    reload: async () => void (await run(['systemctl', 'daemon-reload'], { privileged: true })),
    enable: async (unit) => void (await run(['systemctl', 'enable', unit], { privileged: true })),
    restart: async (unit) => void (await run(['systemctl', 'restart', unit], { privileged: true })),
    logs: async (unit, lines) =>
      (
        await run(['journalctl', '-u', unit, '-n', String(lines), '--no-pager', '-o', 'cat'], {
          privileged: true,
          allowFailure: true
        })
      ).stdout
  }
}

export function createHost(run: Run, services: ServiceManager = systemd(run), scratch = process.env.RUNNER_TEMP || tmpdir()): Host {
  return {
    run,
    services,
    async writeFile(path, content, mode = 0o644) {
      // Written beside us first, then put in place by install(1): one path for root and for
      // a sudo user, and the file never exists half-written at its destination.
      await mkdir(scratch, { recursive: true })
      const tmp = join(scratch, `ksn-${randomUUID()}`)
      await writeFile(tmp, content, { mode: 0o600 })
      try {
        await run(['install', '-D', '-m', mode.toString(8).padStart(4, '0'), tmp, path], { privileged: true })
      } finally {
        await rm(tmp, { force: true })
      }
    }
  }
}
