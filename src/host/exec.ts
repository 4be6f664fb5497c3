// The one way this action runs a host command: an argv array (never a shell string built
// from input), sudo when not root and the command needs it, logged at debug, output captured.
import * as core from '@actions/core'
import { getExecOutput } from '@actions/exec'

export interface RunOptions {
  /** needs root: prefixed with `sudo -n` when the action is not root */
  privileged?: boolean
  /** extra environment for this command only */
  env?: Record<string, string>
  /** text on standard input */
  input?: string
  /** return the result instead of throwing on a non-zero exit */
  allowFailure?: boolean
}

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

export type Run = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult
  ) {
    const tail = lastLines(result.stderr.trim() || result.stdout.trim(), 20)
    super(`\`${displayArgv(argv)}\` exited with code ${result.exitCode}${tail ? `:\n${tail}` : ''}`)
    this.name = 'CommandError'
  }
}

export function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join('\n')
}

/** For logs and the dry run only: quotes what a reader would need quoted. Never executed. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

export function createRun(options: { sudo?: boolean; debug?: (line: string) => void } = {}): Run {
  const sudo = options.sudo ?? !isRoot()
  const debug = options.debug ?? core.debug
  return async (argv, opts = {}) => {
    let full = [...argv]
    if (opts.env && Object.keys(opts.env).length > 0) {
      // `env K=V cmd` survives sudo's environment reset without --preserve-env policies.
      full = ['env', ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`), ...full]
    }
    if (opts.privileged && sudo) full = ['sudo', '-n', ...full]
    debug(`exec: ${displayArgv(full)}`)
    const [cmd, ...args] = full
    const res = await getExecOutput(cmd, args, {
      silent: true,
      ignoreReturnCode: true,
      input: opts.input === undefined ? undefined : Buffer.from(opts.input)
    })
    const result = { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr }
    if (result.exitCode !== 0 && !opts.allowFailure) throw new CommandError(argv, result)
    return result
  }
}
