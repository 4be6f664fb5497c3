// diagnose (the post step after a failure): the logs and cluster state that explain most
// failures, chosen from what exists on the host, and a plain hint for the failures that
// the core, the runtime and the CNI recognise.
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { addonNamed } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import { hintsFor, type Hint, type Probe } from '../engine/diagnostics.js'
import { journalArgv } from '../host/services.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import { RUNTIMES } from '../runtimes/index.js'
import type { CommandEnv } from './env.js'

export const CORE_HINTS: readonly Hint[] = [
  { pattern: /running with swap on is not supported/, hint: 'Swap is on: the kubelet refuses it. Run `sudo swapoff -a` (the action does) and check that nothing turned it back on.' },
  { pattern: /toomanyrequests|429 Too Many Requests/i, hint: "Docker Hub's anonymous pull limit: set registry-mirrors (docker.io=https://mirror.gcr.io) or another smoke-test-image." },
  { pattern: /coredns.*(ImagePullBackOff|ErrImagePull|not found)/, hint: 'coredns cannot be pulled: with a custom image-repository kubeadm asks for REPO/coredns:TAG (flat); a pure mirror of registry.k8s.io keeps coredns/coredns. Use registry-mirrors for such a mirror instead.' }
]

export function allHints(runtime: string, cni: string, addons: readonly string[] = []): Hint[] {
  return [...CORE_HINTS, ...RUNTIMES[runtime].hints, ...CNIS[cni].hints, ...addons.flatMap((a) => addonNamed(a)?.hints ?? [])]
}

export function probes(record: LedgerRecord): Probe[] {
  const { paths, kubeconfig, runtime, cni, addons = [] } = record
  const kubectl = join(paths.binDir, 'kubectl')
  const env = { KUBECONFIG: kubeconfig }
  const cluster = [kubectl, kubeconfig]
  return [
    { title: 'kubelet journal (last 80 lines)', argv: journalArgv('kubelet', 80), privileged: true, requires: [join(paths.binDir, 'kubelet')] },
    ...RUNTIMES[runtime].diagnostics(paths),
    { title: 'pods in all namespaces', argv: [kubectl, 'get', 'pods', '-A', '-o', 'wide'], env, requires: cluster },
    { title: 'events', argv: [kubectl, 'get', 'events', '-A', '--sort-by=.lastTimestamp'], env, requires: cluster },
    { title: 'node', argv: [kubectl, 'describe', 'nodes'], env, requires: cluster },
    ...CNIS[cni].diagnostics(paths, kubectl, kubeconfig),
    ...addons.flatMap((a) => addonNamed(a)?.diagnostics(paths, kubectl, kubeconfig) ?? [])
  ]
}

export interface Diagnostic {
  title: string
  output: string
}

/** The probes' output, the hints they match, and the lines the log shows for them. */
export interface Diagnosis {
  diags: Diagnostic[]
  hints: string[]
  lines: string[]
}

/** Runs the probes that mean something on this host and reads the hints; prints nothing. */
export async function examine(record: LedgerRecord, env: CommandEnv): Promise<Diagnosis> {
  const present = (p: string): Promise<boolean> => access(p).then(() => true, () => false)
  const all = probes(record)
  const usable = await Promise.all(all.map(async (p) => (await Promise.all((p.requires ?? []).map(present))).every(Boolean)))
  const diags = await Promise.all(
    all
      .filter((_, i) => usable[i])
      .map(async ({ title, argv, privileged, env: e }) => {
        try {
          const r = await env.run(argv, { privileged, env: e, allowFailure: true })
          return { title, output: (r.stdout + r.stderr).trim() || `(exit ${r.exitCode}, no output)` }
        } catch (err) {
          return { title, output: `(could not run: ${(err as Error).message})` }
        }
      })
  )
  const failed = record.failed
  const hints = hintsFor(allHints(record.runtime, record.cni, record.addons), [failed?.message ?? '', ...diags.map((d) => d.output)].join('\n'))
  const lines = [`Failed step: ${failed?.step ?? (failed ? '(before the plan)' : '(none: the main step did not fail)')}`, failed?.message ?? '', ...diags.flatMap((d) => ['', `### ${d.title}`, d.output])]
  return { diags, hints, lines }
}

/** The post step after a failure: the probes' output in the log, the hints as warnings, and the summary. */
export async function diagnose(record: LedgerRecord, env: CommandEnv): Promise<Diagnosis> {
  const d = await examine(record, env)
  const { diags, hints } = d
  const failed = record.failed
  env.io.block('Diagnostics', d.lines)
  for (const h of hints) env.io.warning(h, 'kubeadm-single-node hint')
  await env.io.summary({
    kind: 'failure',
    message: `${failed?.message ?? ''}${hints.length ? `\n\nHints:\n${hints.map((h) => `- ${h}`).join('\n')}` : ''}`,
    details: diags.map((d) => [d.title, d.output.slice(-8000)])
  })
  return d
}
