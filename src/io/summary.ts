// The job summary: the cluster's facts, a per-phase timing table, and a Gantt chart of
// the steps so that overlap (or its absence) is visible at a glance.
import * as core from '@actions/core'
import { phaseTimings } from '../engine/execute.js'
import type { StepTiming } from '../engine/step.js'

export type StepSummary =
  | { kind: 'run'; headline: string; facts: Array<[string, string]>; timings: readonly StepTiming[]; total: number; notes: string[] }
  | { kind: 'plan'; text: string }
  | { kind: 'failure'; message: string; details?: Array<[string, string]>; timings?: readonly StepTiming[] }
  | { kind: 'cleanup'; lines: string[] }

export function timingsJson(timings: readonly StepTiming[], total: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of phaseTimings(timings)) out[p.phase] = round(p.seconds)
  out.total = round(total)
  return out
}

const round = (n: number): number => Math.round(n * 10) / 10

export function ganttChart(timings: readonly StepTiming[]): string {
  const lines = ['gantt', '  dateFormat X', '  axisFormat %Ss', '  title Steps (seconds from start)']
  let section = ''
  for (const t of [...timings].sort((a, b) => a.start - b.start)) {
    if (t.phase !== section) {
      section = t.phase
      lines.push(`  section ${t.phase}`)
    }
    const start = Math.floor(t.start)
    const end = Math.max(start + 1, Math.ceil(t.end))
    lines.push(`  ${t.id.replace(/[:#]/g, ' ')} : ${start}, ${end}`)
  }
  return lines.join('\n')
}

function addTimings(timings: readonly StepTiming[], total?: number): void {
  core.summary.addHeading('Timings', 3)
  core.summary.addTable([
    [{ data: 'phase', header: true }, { data: 'started at (s)', header: true }, { data: 'seconds', header: true }],
    ...phaseTimings(timings).map((p) => [p.phase, p.start.toFixed(1), p.seconds.toFixed(1)]),
    ...(total === undefined ? [] : [['total (wall)', '0.0', total.toFixed(1)]])
  ])
  core.summary.addRaw(`\n\`\`\`mermaid\n${ganttChart(timings)}\n\`\`\`\n`, true)
}

/**
 * The job summary is HTML: core.summary puts code blocks and table cells in as they are, so
 * that `<rendered>` or a credential placeholder would vanish, and YAML from a user could add
 * markup. Everything the action did not write as markup goes through here.
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export async function writeSummary(s: StepSummary): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const sum = core.summary
  switch (s.kind) {
    case 'run':
      // the first line: the figure users compare between runs and with other cluster actions
      sum.addRaw(`<p><strong>${escapeHtml(s.headline)}</strong></p>\n`, true)
      sum.addHeading('kubeadm-single-node', 2)
      sum.addTable([[{ data: 'fact', header: true }, { data: 'value', header: true }], ...s.facts.map(([k, v]) => [escapeHtml(k), escapeHtml(v)])])
      addTimings(s.timings, s.total)
      for (const n of s.notes) sum.addRaw(`> ${escapeHtml(n)}\n`, true)
      break
    case 'plan':
      sum.addHeading('kubeadm-single-node: dry run', 2).addRaw('Nothing on this host was changed. The plan, in order:\n', true).addCodeBlock(escapeHtml(s.text), 'text')
      break
    case 'failure':
      sum.addHeading('kubeadm-single-node failed', 2).addCodeBlock(escapeHtml(s.message), 'text')
      for (const [title, body] of s.details ?? []) sum.addDetails(escapeHtml(title), `\n\n\`\`\`text\n${body}\n\`\`\`\n`)
      if (s.timings && s.timings.length > 0) addTimings(s.timings)
      break
    case 'cleanup':
      sum.addHeading('kubeadm-single-node cleanup', 3).addCodeBlock(escapeHtml(s.lines.join('\n')), 'text')
      break
  }
  await sum.write()
}
