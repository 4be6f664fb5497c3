// up: inputs -> plan -> checks -> execute -> outputs and summary. Everything it changes on
// the host goes through the ledger, saved as it happens, so that whatever fails, `down`
// (the post step) can put the host back.
import { dirname } from 'node:path'
import { InputError, type Config } from '../config/inputs.js'
import { execute } from '../engine/execute.js'
import { StepError, type StepTiming } from '../engine/step.js'
import { createHost } from '../host/host.js'
import { Ledger } from '../host/ledger.js'
import { headOf, type LedgerRecord } from '../io/ledger-store.js'
import { timingsJson } from '../io/summary.js'
import { preflight } from '../preflight/preflight.js'
import { enabledAddons } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import type { CommandEnv } from './env.js'
import { anything, findExisting, ledgerProblems, resetExisting, reuseCluster } from './existing.js'
import { headline, prepare, type Prepared } from './prepare.js'

/** Throws an Error whose message is the whole story for the user: what failed, and what now. */
export async function up(config: Config, env: CommandEnv): Promise<void> {
  const { io, paths, store } = env
  const t0 = performance.now()
  const timings: StepTiming[] = []
  const seconds = (): number => (performance.now() - t0) / 1000
  let record: LedgerRecord | undefined
  try {
    let prepared = await prepare(config, env.run, paths, undefined, env.cache)
    io.info(headline(prepared, env.where))
    const stopIfAny = async (p: Prepared, extra: string[]): Promise<void> => {
      const problems = [...extra, ...(await preflight(config, p.facts, paths, p.plan, p.version, env.run))]
      if (problems.length > 0) throw new Error(`This host cannot run the cluster; nothing was changed:\n${problems.map((l) => `  - ${l}`).join('\n')}`)
    }
    const existing = await findExisting(prepared.facts, env)
    await stopIfAny(prepared, ledgerProblems(config, existing, env.hostLedgerFile, env.where))
    if (anything(existing)) {
      if (config.onExisting === 'reuse' && existing.cluster) return await reuse(config, env, prepared, existing.earlier, t0)
      await resetExisting(existing, env)
      // the host as the reset left it: what to install, restart or back up may have changed
      prepared = await prepare(config, env.run, paths, undefined, env.cache)
      io.info(`on-existing: reset done; ${headline(prepared, env.where)}`)
      await stopIfAny(prepared, [])
    }
    const { version, facts, plan } = prepared
    io.setOutput('kubernetes-version', version)
    for (const n of plan.notes) io.warning(n)

    const rec: LedgerRecord = {
      changes: [],
      completed: [],
      cleanup: env.where === 'actions' && (config.cleanup === 'true' || (config.cleanup === 'auto' && facts.selfHosted)),
      kubeconfig: plan.kubeconfig,
      paths,
      runtime: config.containerRuntime,
      cni: config.cni,
      addons: enabledAddons(config).map((a) => a.input),
      diagnosticsArtifact: config.diagnosticsArtifact,
      timings
    }
    record = rec
    await store.saveHead(headOf(rec))
    // each change on its own, as it happens; the head where it changes, one save at a time
    const ledger = new Ledger((change, i) => {
      rec.changes[i] = change
      return store.saveChange(i, change)
    })
    let heads: Promise<void> = Promise.resolve()
    const saveHead = (): Promise<void> => (heads = heads.then(() => store.saveHead(headOf(rec))))
    const host = createHost({ run: env.run, services: env.services, ledger, ...paths, undoRoots: env.hostLedger.roots })
    io.start(plan.steps)
    try {
      await execute(
        plan.steps,
        { host, learned: plan.learned, warn: (m) => io.warning(m) },
        {
          onStart: (step) => io.stepStarted?.(step),
          onEnd: (step, t, lines, error) => {
            timings.push(t)
            if (!error) rec.completed.push(step.id)
            void saveHead().catch(() => {})
            io.stepEnded(step, t, lines, error)
          }
        }
      )
    } finally {
      io.flush()
      for (const w of plan.cache?.warnings ?? []) io.warning(w, 'cache')
      await heads
    }

    const l = plan.learned
    const { cache } = plan
    if (cache && l.cacheable) {
      // only what the action pulled anonymously (phases/images.ts): a cache entry is readable by
      // every workflow run of the repository, pull requests from forks included
      rec.cache = cache.record(l.cacheable, config.containerRuntime, plan.runtime.storeRef(l))
    }
    io.exportVariable('KUBECONFIG', l.kubeconfig ?? plan.kubeconfig)
    io.addPath(paths.binDir)
    // from the step's start (the process's: performance.now() counts from it) to the last wait
    // done: nginx answering, or the node Ready where the smoke test is off
    const ready = (performance.now() - (env.startedAt ?? t0)) / 1000
    const readyWhat = l.nginxUrl ? `nginx answered at ${l.nginxUrl}` : `node ${l.nodeName} Ready (no smoke test)`
    const outputs: Record<string, string> = {
      'time-to-ready': ready.toFixed(1),
      kubeconfig: l.kubeconfig ?? '',
      'node-name': l.nodeName ?? '',
      'node-ip': l.nodeIp ?? '',
      'node-port': l.nodePort === undefined ? '' : String(l.nodePort),
      'nginx-url': l.nginxUrl ?? '',
      'load-balancer-ip': l.loadBalancerIp ?? '',
      timings: JSON.stringify(timingsJson(timings, seconds())),
      'cache-hit': !cache?.restored ? 'false' : cache.restored.exact ? 'true' : 'partial',
      // what the add-ons this run turned on give (local-registry: its address)
      ...Object.assign({}, ...enabledAddons(config).map((a) => a.outputs?.(config) ?? {}))
    }
    for (const [k, v] of Object.entries(outputs)) io.setOutput(k, v)
    rec.finished = true
    await saveHead()
    io.info(`Cluster ready in ${seconds().toFixed(1)}s: node ${l.nodeName} (${l.nodeIp})${l.nginxUrl ? `, nginx at ${l.nginxUrl}` : ''}`)
    await io.summary({
      kind: 'run',
      headline: `Ready in ${ready.toFixed(1)} s: ${readyWhat} (Kubernetes ${version}, ${plan.runtime.describe}, ${CNIS[config.cni].describe(prepared.config)})`,
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
        ...enabledAddons(config).map((a): [string, string] => [a.input, a.describe(config)]),
        ...(l.loadBalancerIp ? [['load-balancer-ip', l.loadBalancerIp] as [string, string]] : []),
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
      await store.saveHead(headOf(record))
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

/**
 * on-existing: reuse, with a cluster on the host: nothing is built, but load-images are
 * loaded (images the job built are why it wants the cluster). The earlier run's ledger
 * becomes this run's (so this job's cleanup, or a later reset, undoes the cluster), plus the
 * runner user's kubeconfig if it has to be copied again.
 */
async function reuse(config: Config, env: CommandEnv, prepared: Prepared, earlier: LedgerRecord | undefined, t0: number): Promise<void> {
  const { io, paths, store } = env
  const { facts, plan } = prepared
  const adopted = earlier?.changes ?? []
  const rec: LedgerRecord = {
    changes: [...adopted],
    completed: [],
    cleanup: env.where === 'actions' && (config.cleanup === 'true' || (config.cleanup === 'auto' && facts.selfHosted)),
    kubeconfig: plan.kubeconfig,
    paths,
    runtime: earlier?.runtime ?? config.containerRuntime,
    cni: earlier?.cni ?? config.cni,
    addons: earlier?.addons ?? enabledAddons(config).map((a) => a.input),
    diagnosticsArtifact: config.diagnosticsArtifact
  }
  // the adopted record is saved whole once this run changes something, or at its end
  let saved = false
  const ledger = new Ledger(async (change, i) => {
    if (!saved) {
      saved = true
      await store.save(rec)
    }
    rec.changes[adopted.length + i] = change
    await store.saveChange(adopted.length + i, change)
  })
  const host = createHost({ run: env.run, services: env.services, ledger, ...paths, undoRoots: env.hostLedger.roots })
  const owner = { uid: facts.user.uid, gid: facts.user.gid }
  const r = await reuseCluster(config, plan.kubeconfig, env, earlier?.addons, async (src, dest) => {
    await host.ensureDir(dirname(dest), { mode: 0o700, owner })
    await host.installFile(src, dest, { mode: 0o600, owner })
  })
  rec.kubeconfig = r.kubeconfig
  // images this job built reach the cluster it reuses: the plan's own load step, alone
  const load = plan.steps.find((s) => s.id === 'images.load')
  if (load) {
    io.start([load])
    await execute([{ ...load, needs: [] }], { host, learned: plan.learned }, { onStart: (s) => io.stepStarted?.(s), onEnd: (s, t, lines, error) => io.stepEnded(s, t, lines, error) })
    io.flush()
  }
  rec.finished = true
  await (saved ? store.saveHead(headOf(rec)) : store.save(rec))
  io.exportVariable('KUBECONFIG', r.kubeconfig)
  io.addPath(paths.binDir)
  const seconds = (performance.now() - t0) / 1000
  const outputs: Record<string, string> = {
    'kubernetes-version': r.version,
    kubeconfig: r.kubeconfig,
    'node-name': r.nodeName,
    'node-ip': r.nodeIp,
    'node-port': r.nodePort === undefined ? '' : String(r.nodePort),
    'nginx-url': r.nginxUrl ?? '',
    'time-to-ready': ((performance.now() - (env.startedAt ?? t0)) / 1000).toFixed(1),
    timings: JSON.stringify(timingsJson([], seconds)),
    ...r.addonOutputs
  }
  for (const [k, v] of Object.entries(outputs)) io.setOutput(k, v)
  io.info(`on-existing: reuse: the cluster already here (${r.version}, node ${r.nodeName} ${r.nodeIp}) answers; nothing was built. ${rec.changes.length} host changes are in this run's ledger${adopted.length ? ` (${adopted.length} from the earlier run)` : ''}.`)
  await io.summary({
    kind: 'run',
    headline: `Ready in ${((performance.now() - (env.startedAt ?? t0)) / 1000).toFixed(1)} s: the cluster already on this host answers (on-existing: reuse; nothing built)`,
    facts: [
      ['Kubernetes', `${r.version} (reused: on-existing: reuse)`],
      ['node', `${r.nodeName} (${r.nodeIp})`],
      ['nginx', r.nginxUrl ?? '-'],
      ['kubeconfig', r.kubeconfig],
      ['host changes recorded', String(rec.changes.length)]
    ],
    timings: [],
    total: seconds,
    notes: []
  })
}
