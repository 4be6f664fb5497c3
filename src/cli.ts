// The plan outside Actions: `node dist/cli.js plan --kubernetes-version v1.34.2 --out DIR`.
// Every action input is a flag of the same name. Read-only: it probes the host, prints
// the plan and, with --out, writes every file the action would write under DIR.
import { parseArgs } from 'node:util'
import { createRun } from './host/exec.js'
import { INPUT_NAMES, InputError, parseInputs } from './inputs.js'
import { renderPlan, writePlanTree } from './plan.js'
import { prepare } from './prepare.js'
import { hostProblems } from './steps.js'

const USAGE = `usage: kubeadm-single-node plan [--INPUT VALUE ...] [--out DIR]

Prints, in order and with their dependencies, every command and file the action would
run or write on this host, changing nothing. With --out DIR, also writes each file at its
host path under DIR, beside plan.txt and plan.json. Any action input is a flag, e.g.
  --kubernetes-version v1.34.2   (an exact version needs no network)
  --image-repository registry.aliyuncs.com/google_containers
  --registry-mirrors 'docker.io=https://mirror.gcr.io'`

export async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries([...INPUT_NAMES, 'out'].map((n) => [n, { type: 'string' as const }]))
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, allowPositionals: true })
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const positionals = parsed.positionals
  const values = parsed.values as Record<string, string | boolean | undefined>
  if (positionals[0] !== 'plan' || values.help) {
    process.stdout.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const out = typeof values.out === 'string' ? values.out : undefined
  try {
    const config = parseInputs((name) => {
      const v = values[name]
      return typeof v === 'string' ? v : ''
    })
    const { version, facts, plan } = await prepare(config, createRun({ debug: () => {} }))
    process.stdout.write(`# Kubernetes ${version} on ${facts.arch}; containerd ${facts.containerd?.version ?? 'not installed'}; ${facts.cpus} CPUs\n`)
    for (const n of plan.notes) process.stdout.write(`# note: ${n}\n`)
    for (const p of hostProblems(config, facts, version)) process.stdout.write(`# a real run would stop here: ${p}\n`)
    process.stdout.write(renderPlan(plan.steps, plan.state))
    if (out) {
      const files = await writePlanTree(plan.steps, plan.state, out)
      process.stdout.write(`# wrote plan.txt, plan.json and ${files.length} files under ${out}\n`)
    }
    return 0
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`)
    return err instanceof InputError ? 2 : 1
  }
}

process.exitCode = await main(process.argv.slice(2))
