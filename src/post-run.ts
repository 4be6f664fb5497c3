// The post step: diagnostics after a failure, cleanup where asked. It never fails the job.
import * as core from '@actions/core'
import { cleanup } from './cleanup.js'
import { collectDiagnostics, hintsFor } from './diagnostics.js'
import { createRun } from './host/exec.js'
import { loadRunState } from './saved-state.js'
import { writeFailureSummary } from './summary.js'

export async function runPost(): Promise<void> {
  try {
    const s = loadRunState()
    if (!s || !s.changedHost) {
      core.info('Nothing to diagnose or clean up: the main step changed nothing on this host.')
      return
    }
    const run = createRun()
    if (s.failed) {
      const diags = await collectDiagnostics(run, s.paths, s.kubeconfig)
      const hints = hintsFor([s.failed.message, ...diags.map((d) => d.output)].join('\n'))
      core.startGroup('Diagnostics')
      core.info(`Failed step: ${s.failed.step ?? '(before the plan)'}\n${s.failed.message}`)
      for (const d of diags) core.info(`\n### ${d.title}\n${d.output}`)
      core.endGroup()
      for (const h of hints) core.warning(h, { title: 'kubeadm-single-node hint' })
      await writeFailureSummary(
        `${s.failed.message}${hints.length ? `\n\nHints:\n${hints.map((h) => `- ${h}`).join('\n')}` : ''}`,
        diags.map((d) => [d.title, d.output.slice(-8000)])
      )
    }
    if (s.cleanup) {
      core.startGroup('Cleanup: kubeadm reset and undo the host changes')
      await cleanup(run, s, (m) => core.warning(m), (m) => core.info(m))
      core.endGroup()
    }
  } catch (err) {
    core.warning(`The post step could not finish: ${(err as Error).message}`)
  }
}
