// Orchestration only: inputs -> plan -> execute -> outputs and summary. One failure
// boundary: whatever fails is reported once, with what to try.
import { mkdir } from 'node:fs/promises'
import * as core from '@actions/core'
import { createHost } from './host/host.js'
import { createRun } from './host/exec.js'
import { InputError, parseInputs } from './inputs.js'
import { HOST_PATHS, type Paths } from './paths.js'
import { PHASES, renderPlan, runPlan, StepError, writePlanTree, type Phase, type Step, type StepTiming } from './plan.js'
import { prepare } from './prepare.js'
import { saveRunState, type SavedState } from './saved-state.js'
import { hostProblems } from './steps.js'
import { timingsJson, writeFailureSummary, writePlanSummary, writeRunSummary } from './summary.js'

/** Buffers each phase's lines and prints them as one log group when its last step ends. */
function phaseLogger(steps: readonly Step[]) {
  const left = new Map<Phase, number>()
  for (const s of steps) left.set(s.phase, (left.get(s.phase) ?? 0) + 1)
  const lines = new Map<Phase, string[]>()
  const flush = (phase: Phase, seconds?: number): void => {
    const buf = lines.get(phase)
    if (!buf) return
    lines.delete(phase)
    core.startGroup(`${phase}${seconds === undefined ? '' : ` (${seconds.toFixed(1)}s)`}`)
    for (const l of buf) core.info(l)
    core.endGroup()
  }
  const starts = new Map<Phase, number>()
  return {
    onEnd(step: Step, t: StepTiming, stepLines: string[], error?: unknown) {
      const buf = lines.get(step.phase) ?? []
      buf.push(`── ${step.id}: ${step.title} ${error ? 'FAILED' : 'done'} in ${(t.end - t.start).toFixed(1)}s`, ...stepLines.map((l) => `   ${l}`))
      lines.set(step.phase, buf)
      starts.set(step.phase, Math.min(starts.get(step.phase) ?? t.start, t.start))
      core.info(`${error ? '✗' : '✓'} [${step.phase}] ${step.title} (${(t.end - t.start).toFixed(1)}s)`)
      const n = (left.get(step.phase) ?? 1) - 1
      left.set(step.phase, n)
      if (n === 0) flush(step.phase, t.end - (starts.get(step.phase) ?? t.start))
    },
    flushAll() {
      for (const p of PHASES) flush(p)
    }
  }
}

/** `paths` is where the host's files are; tests put them in a temporary tree. */
export async function run(paths: Paths = HOST_PATHS): Promise<void> {
  const t0 = performance.now()
  let saved: SavedState | undefined
  // filled as steps end, so that a failure still reports what each phase took
  const timings: StepTiming[] = []
  try {
    const config = parseInputs((name) => core.getInput(name))
    const exec = createRun()
    const { version, facts, plan } = await prepare(config, exec, paths)
    core.info(`Kubernetes ${version} on ${facts.arch}, containerd ${facts.containerd?.version ?? 'not installed'}, ${facts.cpus} CPUs, ${facts.selfHosted ? 'self-hosted' : 'hosted'} runner`)
    core.setOutput('kubernetes-version', version)
    for (const n of plan.notes) core.warning(n)

    const problems = hostProblems(config, facts, version)
    if (config.dryRun) {
      for (const p of problems) core.warning(`A real run would stop here: ${p}`)
      const text = renderPlan(plan.steps, plan.state)
      core.startGroup('Plan (dry run: nothing on this host is changed)')
      core.info(text)
      core.endGroup()
      if (config.planDir) {
        const written = await writePlanTree(plan.steps, plan.state, config.planDir)
        core.info(`Wrote the plan and ${written.length} files under ${config.planDir}`)
      }
      core.setOutput('timings', JSON.stringify(timingsJson([], (performance.now() - t0) / 1000)))
      await writePlanSummary(text)
      return
    }

    if (problems.length > 0) throw new Error(`This host cannot run the cluster; nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`)

    saved = {
      changedHost: true,
      started: [],
      completed: [],
      cleanup: config.cleanup === 'true' || (config.cleanup === 'auto' && facts.selfHosted),
      paths,
      kubeconfig: plan.kubeconfig,
      swapWasOn: facts.swapOn,
      containerdConfigExisted: facts.containerdConfigExists,
      daemonJsonExisted: facts.daemonJsonExists,
      mirrors: config.registryMirrors.map((m) => m.registry)
    }
    saveRunState(saved)
    await mkdir(process.env.RUNNER_TEMP || '/tmp', { recursive: true })
    const host = createHost(exec)
    const logger = phaseLogger(plan.steps)
    const state = saved
    try {
      await runPlan(plan.steps, { host, state: plan.state }, {
        onStart: (step) => {
          state.started.push(step.id)
          saveRunState(state)
        },
        onEnd: (step, t, lines, error) => {
          timings.push(t)
          if (!error) state.completed.push(step.id)
          saveRunState(state)
          logger.onEnd(step, t, lines, error)
        }
      })
    } finally {
      logger.flushAll()
    }
    const total = (performance.now() - t0) / 1000
    const s = plan.state
    core.exportVariable('KUBECONFIG', s.kubeconfig)
    core.addPath(paths.binDir)
    const outputs: Record<string, string> = {
      kubeconfig: s.kubeconfig ?? '',
      'node-name': s.nodeName ?? '',
      'node-ip': s.nodeIp ?? '',
      'node-port': s.nodePort === undefined ? '' : String(s.nodePort),
      'nginx-url': s.nginxUrl ?? '',
      timings: JSON.stringify(timingsJson(timings, total))
    }
    for (const [k, v] of Object.entries(outputs)) core.setOutput(k, v)
    core.info(`Cluster ready in ${total.toFixed(1)}s: node ${s.nodeName} (${s.nodeIp})${s.nginxUrl ? `, nginx at ${s.nginxUrl}` : ''}`)
    await writeRunSummary(
      [
        ['Kubernetes', version],
        ['node', `${s.nodeName} (${s.nodeIp})`],
        ['containerd', facts.containerd?.version ?? 'installed with Docker'],
        ['CNI', config.cni === 'flannel' ? `flannel, pods in ${config.podNetworkCidr}` : 'none'],
        ['images', s.imageCounts ? `${s.imageCounts.pulled} pulled, ${s.imageCounts.present} already present, ${s.imageCounts.imported} imported` : '-'],
        ['nginx', s.nginxUrl ?? 'smoke test skipped'],
        ['kubeconfig', s.kubeconfig ?? '']
      ],
      timings,
      total,
      plan.notes
    )
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (saved) {
      saved.failed = { step: err instanceof StepError ? err.step.id : undefined, message }
      saveRunState(saved)
    }
    if (err instanceof InputError) {
      core.setFailed(`${message}\nNothing on this host was changed.`)
    } else {
      core.setFailed(saved ? `${message}\nThe host is partly configured (steps done: ${saved.completed.join(', ') || 'none'}); the post step shows diagnostics${saved.cleanup ? ' and undoes the changes' : ''}.` : message)
    }
    if (timings.length > 0) core.setOutput('timings', JSON.stringify(timingsJson(timings, (performance.now() - t0) / 1000)))
    await writeFailureSummary(message, [], timings).catch(() => {})
  }
}
