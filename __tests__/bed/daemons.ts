// Real daemons, each with its own root, state and socket under a temporary directory, and a
// ServiceManager that (re)starts them the way systemd would restart the host's units.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { ServiceManager } from '../../src/host/host.js'

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

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  async logs(lines: number): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '')
    return text.trim().split('\n').slice(-lines).join('\n')
  }
}

/** systemd's part, played by the bed: units are daemons it owns. */
export function bedServices(units: Record<string, Daemon>): ServiceManager {
  const unit = (name: string): Daemon => {
    const d = units[name]
    if (!d) throw new Error(`the bed has no unit ${name}`)
    return d
  }
  return {
    reload: async () => {},
    enable: async (name) => void unit(name),
    restart: async (name) => unit(name).restart(),
    logs: async (name, lines) => unit(name).logs(lines)
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
