// up: inputs -> plan -> checks -> execute -> outputs and summary. Everything it changes on
// the host goes through the ledger, saved as it happens, so that whatever fails, `down`
// (the post step) can put the host back.
import { entryLayout } from '../cache/entry.js'
import { InputError, type Config } from '../config/inputs.js'
import { execute } from '../engine/execute.js'
import { StepError, type StepTiming } from '../engine/step.js'
import { createHost } from '../host/host.js'
import { Ledger } from '../host/ledger.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import { timingsJson } from '../io/summary.js'
import { preflight } from '../phases/preflight.js'
import { CNIS } from '../cnis/index.js'
import type { CommandEnv } from './env.js'
import { headline, prepare } from './prepare.js'

/** Throws an Error whose message is the whole story for the user: what failed, and what now. */
export async function up(config: Config, env: CommandEnv): Promise<void> {
  const { io, paths, store } = env
  const t0 = performance.now()
  const timings: StepTiming[] = []
  const seconds = (): number => (performance.now() - t0) / 1000
  let record: LedgerRecord | undefined
  try {
    const prepared = await prepare(config, env.run, paths, undefined, env.cache)
    const { version, facts, plan } = prepared
    io.info(headline(prepared))
    io.setOutput('kubernetes-version', version)
    for (const n of plan.notes) io.warning(n)
    const problems = await preflight(config, facts, paths, plan.runtime)
    if (problems.length > 0) throw new Error(`This host cannot run the cluster; nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`)

    const earlier = store.load()
    if (earlier && earlier.changes.length > 0) {
      throw new Error(`An earlier run's ${earlier.changes.length} host changes are still recorded and not undone; nothing was changed. Run \`kubeadm-single-node down\` first (it undoes them), then up again.`)
    }
    const rec: LedgerRecord = {
      changes: [],
      completed: [],
      cleanup: env.where === 'actions' && (config.cleanup === 'true' || (config.cleanup === 'auto' && facts.selfHosted)),
      kubeconfig: plan.kubeconfig,
      paths,
      runtime: config.containerRuntime,
      cni: config.cni
    }
    record = rec
    store.save(rec)
    const ledger = new Ledger((changes) => {
      rec.changes = [...changes]
      store.save(rec)
    })
    const host = createHost({ run: env.run, services: env.services, ledger, ...paths })
    io.start(plan.steps)
    try {
      await execute(
        plan.steps,
        { host, learned: plan.learned },
        {
          onEnd: (step, t, lines, error) => {
            timings.push(t)
            if (!error) rec.completed.push(step.id)
            store.save(rec)
            io.stepEnded(step, t, lines, error)
          }
        }
      )
    } finally {
      io.flush()
      for (const w of plan.cache?.warnings ?? []) io.warning(w, 'cache')
    }

    const l = plan.learned
    const { cache } = plan
    if (cache && l.preloaded) {
      rec.cache = cache.record(l.preloaded, plan.runtime.imageCommands(l).exportArchive(entryLayout(cache.dir).images, l.preloaded))
    }
    io.exportVariable('KUBECONFIG', l.kubeconfig ?? plan.kubeconfig)
    io.addPath(paths.binDir)
    const outputs: Record<string, string> = {
      kubeconfig: l.kubeconfig ?? '',
      'node-name': l.nodeName ?? '',
      'node-ip': l.nodeIp ?? '',
      'node-port': l.nodePort === undefined ? '' : String(l.nodePort),
      'nginx-url': l.nginxUrl ?? '',
      timings: JSON.stringify(timingsJson(timings, seconds())),
      'cache-hit': !cache?.restored ? 'false' : cache.restored.exact ? 'true' : 'partial'
    }
    for (const [k, v] of Object.entries(outputs)) io.setOutput(k, v)
    rec.finished = true
    store.save(rec)
    io.info(`Cluster ready in ${seconds().toFixed(1)}s: node ${l.nodeName} (${l.nodeIp})${l.nginxUrl ? `, nginx at ${l.nginxUrl}` : ''}`)
    await io.summary({
      kind: 'run',
      facts: [
        ['Kubernetes', version],
        ['node', `${l.nodeName} (${l.nodeIp})`],
        ['runtime', plan.runtime.describe],
        ['CNI', CNIS[config.cni].describe(prepared.config)],
        [
          'images',
          l.imageCounts
            ? `${l.imageCounts.pulled} pulled, ${l.imageCounts.cached} from the cache, ${l.imageCounts.present} already present, ${l.imageCounts.imported} imported`
            : '-'
        ],
        ['cache', cache ? cache.describe() : config.cache ? 'unavailable here' : 'off'],
        ['nginx', l.nginxUrl ?? 'smoke test skipped'],
        ['kubeconfig', l.kubeconfig ?? ''],
        ['host changes recorded', String(rec.changes.length)]
      ],
      timings,
      total: seconds(),
      notes: [...plan.notes, ...(cache?.warnings ?? [])]
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    let told = message
    if (record) {
      record.failed = { step: err instanceof StepError ? err.step.id : undefined, message }
      store.save(record)
      const next = env.where === 'terminal' ? 'run `kubeadm-single-node diagnose` for logs and `kubeadm-single-node down` to undo them' : `the post step shows diagnostics${record.cleanup ? ' and undoes them' : " (set cleanup: true to have it undo them)"}`
      told = `${message}\nThe host is partly configured: ${record.changes.length} changes recorded (steps done: ${record.completed.join(', ') || 'none'}); ${next}.`
    }
    if (timings.length > 0) io.setOutput('timings', JSON.stringify(timingsJson(timings, seconds())))
    await io.summary({ kind: 'failure', message: told, timings }).catch(() => {})
    // an input problem found while preparing (kubeadm-config against the resolved version)
    // stays an InputError: nothing was changed, and the caller says so
    throw record === undefined && err instanceof InputError ? err : new Error(told, { cause: err })
  }
}
