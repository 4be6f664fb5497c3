// The dry run: the whole plan in dependency order, every command as the run builds it and
// every file as the run renders it; and the same plan as a directory tree for tools.
import { mkdir, realpath, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { displayArgv } from '../host/exec.js'
import { installArgv } from '../host/host.js'
import { systemctlArgv } from '../host/services.js'
import { orderSteps } from './execute.js'
import type { Learned } from './learned.js'
import type { Op, Step } from './step.js'

/**
 * A file as the dry run shows (***) and writes it (REDACTED: a word that keeps YAML valid,
 * where *** would read as an alias): the values the op names as secret replaced.
 */
function redacted(op: Extract<Op, { kind: 'write' }>, content: string, placeholder = '***'): string {
  return (op.redact ?? []).filter((s) => s !== '').reduce((text, secret) => text.split(secret).join(placeholder), content)
}

export function describeOp(op: Op, learned: Learned): string[] {
  switch (op.kind) {
    case 'exec':
      return [`$ ${op.privileged ? 'sudo ' : ''}${op.env ? Object.entries(op.env).map(([k, v]) => `${k}=${v} `).join('') : ''}${displayArgv(op.argv)}`]
    case 'write': {
      const content = op.render(learned)
      const shown = redacted(op, content)
      return [
        `write ${op.path} (mode ${(op.mode ?? 0o644).toString(8)}, ${Buffer.byteLength(content)} bytes; the original, if any, is kept for cleanup)`,
        `  $ sudo ${displayArgv(installArgv('<rendered>', op.path, { mode: op.mode }))}`,
        ...shown.trimEnd().split('\n').map((l) => `    | ${l}`)
      ]
    }
    case 'service':
      return [`$ sudo ${displayArgv(systemctlArgv(op.action, op.unit))}`]
    case 'task':
      return [`# ${op.title}`, ...op.shows.map((s) => `  ${s}`)]
  }
}

/** The whole plan in dependency order, as a dry run prints it. */
export function renderPlan(steps: readonly Step[], learned: Learned): string {
  const lines: string[] = []
  orderSteps(steps).forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(2)}. [${step.phase}] ${step.id}: ${step.title}${step.needs.length ? `  (after ${step.needs.join(', ')})` : ''}`)
    for (const op of step.ops) lines.push(...describeOp(op, learned).map((l) => `      ${l}`))
  })
  return `${lines.join('\n')}\n`
}

/** Resolves symbolic links in the longest existing prefix of `path`. */
async function realish(path: string): Promise<string> {
  const abs = resolve(path)
  const parent = dirname(abs)
  return realpath(abs).catch(async () => (parent === abs ? abs : join(await realish(parent), abs.slice(parent.length + 1))))
}

/**
 * Why `root` must not take the plan's files: it is the live system, or one of the files
 * would land on the very path it describes (through `..` or a symbolic link).
 */
export async function planTreeProblem(root: string, steps: readonly Step[]): Promise<string | undefined> {
  if ((await realish(root)) === '/') return `it is the live system's root (${root}): the plan's files would overwrite the host's own`
  for (const step of steps) {
    for (const op of step.ops) {
      if (op.kind !== 'write') continue
      if ((await realish(join(root, op.path))) === (await realish(op.path))) return `${join(root, op.path)} is the host's own ${op.path}`
    }
  }
  return undefined
}

/**
 * Writes every file the plan would write at its host path under `root`, beside plan.txt
 * (the ordered listing) and plan.json (steps, needs and operations, for tools).
 */
export async function writePlanTree(steps: readonly Step[], learned: Learned, root: string): Promise<string[]> {
  const written: string[] = []
  for (const step of orderSteps(steps)) {
    for (const op of step.ops) {
      if (op.kind === 'task') {
        for (const w of op.writes ?? []) {
          await mkdir(dirname(join(root, w.path)), { recursive: true })
          await writeFile(join(root, w.path), w.render(learned), { mode: w.mode ?? 0o644 })
          written.push(w.path)
        }
      }
      if (op.kind !== 'write') continue
      const dest = join(root, op.path)
      await mkdir(dirname(dest), { recursive: true })
      // a plan tree is for reading and diffing, and is often kept as a job's artifact
      await writeFile(dest, redacted(op, op.render(learned), 'REDACTED'), { mode: op.mode ?? 0o644 })
      written.push(op.path)
    }
  }
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'plan.txt'), renderPlan(steps, learned))
  const json = orderSteps(steps).map((s) => ({
    id: s.id,
    phase: s.phase,
    title: s.title,
    needs: s.needs,
    ops: s.ops.map((op) =>
      op.kind === 'write'
        ? { kind: op.kind, path: op.path, mode: (op.mode ?? 0o644).toString(8) }
        : op.kind === 'task'
          ? { kind: op.kind, title: op.title, shows: op.shows }
          : op
    )
  }))
  await writeFile(join(root, 'plan.json'), `${JSON.stringify(json, null, 2)}\n`)
  return written
}
