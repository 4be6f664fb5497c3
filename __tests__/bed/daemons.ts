// Real daemons, each with its own root, state and socket under a temporary directory, and a
// ServiceManager that restarts and reloads them the way systemd does the host's units.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Run } from '../../src/host/exec.js'
import type { ServiceManager } from '../../src/host/services.js'

export class Daemon {
  private child?: ChildProcess
  constructor(
    readonly name: string,
    private readonly argv: () => string[],
    readonly logFile: string
  ) {}

  start(): void {
    const [cmd, ...args] = this.argv()
    const log = createWriteStream(this.logFile, { flags: 'a' })
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.pipe(log)
    child.stderr!.pipe(log)
    this.child = child
  }

  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  async restart(): Promise<void> {
    await this.stop()
    this.start()
  }

  /** `systemctl reload`, as the units the action reloads define it: SIGHUP to the running daemon. */
  reload(): void {
    if (!this.running) throw new Error(`${this.name} is not running: there is nothing to reload`)
    this.child!.kill('SIGHUP')
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  async logs(lines: number): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '')
    return text.trim().split('\n').slice(-lines).join('\n')
  }
}

/** systemd's part, played by the bed: units are daemons it owns, enabled while they exist. */
export function bedServices(units: Record<string, Daemon>): ServiceManager {
  const unit = (name = ''): Daemon => {
    const d = units[name]
    if (!d) throw new Error(`the bed has no unit ${name}`)
    return d
  }
  return {
    async act(action, name) {
      switch (action) {
        case 'daemon-reload':
          return
        case 'enable':
          return void unit(name)
        case 'restart':
          return unit(name).restart()
        case 'reload':
          return unit(name).reload()
      }
    },
    status: async (name) => ({ enabled: units[name] ? 'enabled' : 'not-found', active: units[name]?.running ?? false }),
    async disable(name, stop) {
      if (stop) await unit(name).stop()
    },
    logs: async (name, lines) => unit(name).logs(lines)
  }
}

/**
 * `run`, with the `systemctl` commands cleanup runs going to the bed's service manager (the
 * bed has no systemd); every other command runs for real.
 */
export function withBedSystemctl(run: Run, units: Record<string, Daemon>): Run {
  const services = bedServices(units)
  return async (argv, opts) => {
    if (argv[0] !== 'systemctl') return run(argv, opts)
    // `--` ends systemctl's options before the unit (services.ts, changes/index.ts)
    const [, action, name] = argv.filter((a) => a !== '--')
    if (action === 'stop') {
      if (!units[name]) throw new Error(`the bed has no unit ${name}`)
      await units[name].stop()
    } else if (action === 'daemon-reload' || action === 'restart' || action === 'reload') {
      await services.act(action, name)
    } else throw new Error(`the bed does not play \`systemctl ${argv.slice(1).join(' ')}\``)
    return { exitCode: 0, stdout: '', stderr: '' }
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  let delay = 50
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 500)
  }
}
