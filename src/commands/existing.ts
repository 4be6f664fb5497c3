// What a run does with what an earlier one left on the host: a cluster (kubeadm's admin.conf)
// or host changes that no cleanup undid (the ledger kept on the host, see io/host-ledger.ts).
// A ledger that cannot be read or trusted stops every run, whatever on-existing says.
// on-existing decides: fail (before anything changes), reset (undo, then build afresh) or
// reuse (an answering cluster is taken as it is). Self-hosted runners are where this happens:
// a hosted runner's machine never outlives its job.
import { existsSync } from 'node:fs'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { enabledAddons } from '../addons/index.js'
import { SMOKE } from '../config/defaults.js'
import type { Config, VersionSpec } from '../config/inputs.js'
import { ON_EXISTING_FORMS } from '../inputs/table.js'
import { minorOf } from '../config/versions.js'
import { displayArgv } from '../host/exec.js'
import { describeChange, leftInPlace } from '../host/changes/index.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'
import { LedgerTrustError, oldLedgerFile } from '../io/host-ledger.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import { nodeFacts } from '../kube/kubectl.js'
import { httpStatus } from '../kube/wait.js'
import { down } from './down.js'
import type { CommandEnv } from './env.js'

export interface Existing {
  /** admin.conf exists: kubeadm init ran here and no kubeadm reset since */
  cluster: boolean
  /** an earlier run's ledger, with changes still to undo */
  earlier?: LedgerRecord
  /** the host's ledger is there but cannot be read, parsed or trusted: why, and what to do */
  untrusted?: string
}

/** Where earlier versions kept the ledger (a user's home): found there, it is said and ignored. */
export function oldLedgerNotice(): string | undefined {
  const old = oldLedgerFile()
  if (!existsSync(old)) return undefined
  return `Found ${old}, a ledger where earlier versions of this action kept it, in a user's home. It is ignored: a file that any job of that user can write is never replayed as root. Remove it (rm ${old}); what it records, if anything, was not undone.`
}

export async function findExisting(facts: HostFacts, env: Pick<CommandEnv, 'hostLedger' | 'hostLedgerFile' | 'io'>): Promise<Existing> {
  const old = oldLedgerNotice()
  if (old) env.io.warning(old)
  try {
    const earlier = await env.hostLedger.load()
    return { cluster: facts.existingCluster, earlier: earlier && earlier.changes.length > 0 ? earlier : undefined }
  } catch (err) {
    const why = err instanceof LedgerTrustError ? err : new LedgerTrustError(env.hostLedgerFile, `cannot be read (${(err as Error).message})`)
    return { cluster: facts.existingCluster, untrusted: why.message }
  }
}

export const anything = (ex: Existing): boolean => ex.cluster || ex.earlier !== undefined

/** What is there, in one sentence's worth of clauses. */
function whatIsThere(ex: Existing, paths: Paths, ledgerFile: string): string {
  const parts: string[] = []
  if (ex.cluster) parts.push(`a cluster (${paths.adminConf} exists)`)
  if (ex.earlier) parts.push(`an earlier run's ${ex.earlier.changes.length} host changes that no cleanup undid (recorded in ${ledgerFile})`)
  return parts.join(' and ')
}

/**
 * on-existing: fail, with an earlier run's changes recorded and not undone (a cluster itself
 * is preflight's: src/preflight/preflight.ts). Building over them would take the earlier run's
 * files for the host's originals, and its cleanup would then put back the wrong ones.
 */
export function ledgerProblems(config: Config, ex: Existing, ledgerFile: string, where: CommandEnv['where']): string[] {
  // never "nothing recorded": whatever on-existing says, a run over it could not undo it
  if (ex.untrusted) return [ex.untrusted]
  if (!ex.earlier || config.onExisting !== 'fail') return []
  const down = where === 'terminal' ? 'with `kubeadm-single-node down`' : "with `node dist/cli.js down`, run from the action's folder as the runner's user"
  return [
    `An earlier run's ${ex.earlier.changes.length} host changes are still recorded in ${ledgerFile} and not undone, and input 'on-existing' is 'fail'; accepted: ${ON_EXISTING_FORMS}. Or undo them first ${down}.`
  ]
}

/** The kubeadm or kubectl the earlier run installed, else the one on PATH. */
async function tool(paths: Paths, name: string): Promise<string> {
  const ours = join(paths.binDir, name)
  return access(ours).then(
    () => ours,
    () => name
  )
}

export function kubeadmResetAnyArgv(kubeadm: string): string[] {
  // no --cri-socket: a cluster no ledger records may use any runtime; kubeadm finds it
  return [kubeadm, 'reset', '--force']
}

/** What the dry run says on-existing would do here, before the plan of the fresh cluster. */
export function describeExisting(config: Config, ex: Existing, paths: Paths, ledgerFile: string): string[] {
  if (!anything(ex)) return []
  const head = `This host already has ${whatIsThere(ex, paths, ledgerFile)}.`
  const undo = ex.earlier ? [...ex.earlier.changes].reverse().map((c) => `  ${leftInPlace(c) ? 'left in place' : 'undo'}: ${describeChange(c)}`) : []
  const reset = [
    ...(ex.earlier ? [`on-existing: ${config.onExisting}: the earlier run's changes are undone, newest first, as its cleanup would:`, ...undo] : []),
    ...(ex.cluster ? [`then, if ${paths.adminConf} is still there: $ sudo ${displayArgv(kubeadmResetAnyArgv(join(paths.binDir, 'kubeadm')))}`] : []),
    'then the host is read again and the plan below (made from it as it is now) may differ.'
  ]
  switch (config.onExisting) {
    case 'fail':
      return [head, "on-existing: fail: a real run stops here, changing nothing."]
    case 'reset':
      return [head, ...reset]
    case 'reuse':
      return ex.cluster
        ? [
            head,
            `on-existing: reuse: $ sudo KUBECONFIG=${paths.adminConf} kubectl get --raw /readyz; if it answers, its kubeconfig and the outputs are exported and nothing below runs${config.loadImages.length ? ' but images.load' : ''} (the earlier ledger becomes this run's).`,
            `If it does not answer, the run stops; on-existing: reset builds afresh.`
          ]
        : [head, 'on-existing: reuse: no cluster to reuse, so as reset:', ...reset]
  }
}

/**
 * on-existing: reset. The earlier run's ledger is replayed as its cleanup would (kubeadm
 * reset first, every file back), then a cluster no ledger recorded is reset by kubeadm. Any
 * undo that fails stops the run: a fresh cluster over half an old one would record the old
 * one's files as the host's originals.
 */
export async function resetExisting(ex: Existing, env: CommandEnv): Promise<void> {
  const { io } = env
  if (ex.earlier) {
    io.info(`on-existing: reset: undoing the earlier run's ${ex.earlier.changes.length} recorded host changes (${env.hostLedgerFile}).`)
    // the earlier record's own paths and store: what it undoes is taken out of the host's file
    const r = await down(ex.earlier, { ...env, paths: ex.earlier.paths, store: env.hostLedger })
    if (r.failed > 0) {
      throw new Error(`on-existing: reset could not undo ${r.failed} of the earlier run's changes (listed above); nothing of the new cluster was built. What is left stays recorded in ${env.hostLedgerFile}: fix it, then run again.`)
    }
  }
  const paths = env.paths
  const stillThere = await access(paths.adminConf).then(
    () => true,
    () => false
  )
  if (stillThere) {
    const argv = kubeadmResetAnyArgv(await tool(paths, 'kubeadm'))
    io.info(`on-existing: reset: ${paths.adminConf} is still there (a cluster no ledger records): $ sudo ${displayArgv(argv)}`)
    const res = await env.run(argv, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (res.exitCode !== 0) {
      throw new Error(`on-existing: reset: \`${displayArgv(argv)}\` exited ${res.exitCode}: ${(res.stderr || res.stdout).trim().split('\n').slice(-3).join(' ')}. Nothing of the new cluster was built.`)
    }
  }
}

export interface Reused {
  version: string
  kubeconfig: string
  nodeName: string
  nodeIp: string
  nodePort?: number
  nginxUrl?: string
  /** the outputs of the add-ons the earlier run turned on and this one asks for, where they still answer */
  addonOutputs: Record<string, string>
}

/** Whether the cluster's version is the one asked for: exactly, by minor, or any for 'stable'. */
export function versionMismatch(spec: VersionSpec, running: string): string | undefined {
  if (spec.kind === 'exact' && spec.version !== running) return `kubernetes-version asks for ${spec.version}`
  if (spec.kind === 'minor' && minorOf(running) !== spec.minor) return `kubernetes-version asks for 1.${spec.minor}`
  return undefined
}

/**
 * on-existing: reuse, with a cluster here. It must answer (`/readyz` through admin.conf) and
 * run the version asked for; then the runner user gets a fresh copy of its admin.conf (at the
 * plan's kubeconfig, recorded like any file the action writes) and the outputs are read
 * from the cluster. The smoke test's Service, where an earlier run made it, gives node-port
 * and nginx-url if it answers 200; an add-on the earlier run turned on (`earlierAddons`, from
 * its ledger) gives its outputs the same way, and one it did not is said, not built.
 */
export async function reuseCluster(config: Config, kubeconfig: string, env: CommandEnv, earlierAddons: readonly string[] | undefined, install: (src: string, dest: string) => Promise<void>): Promise<Reused> {
  const { paths, run, io } = env
  const kubectl = await tool(paths, 'kubectl')
  // admin.conf is root's (0600): read through sudo, named by KUBECONFIG as every kubectl call here does
  const admin = (args: string[]) => run([kubectl, ...args], { privileged: true, allowFailure: true, env: { KUBECONFIG: paths.adminConf } })
  const ready = await admin(['get', '--raw', '/readyz']).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
  if (ready.exitCode !== 0) {
    throw new Error(`on-existing: reuse: the cluster on this host (${paths.adminConf}) does not answer: \`kubectl get --raw /readyz\` exited ${ready.exitCode}: ${(ready.stderr || ready.stdout).trim().split('\n').slice(-3).join(' ')}. Nothing was changed. Set on-existing: reset to build a fresh cluster instead.`)
  }
  const versionOut = await admin(['version', '-o', 'json'])
  const version = String(JSON.parse(versionOut.stdout || '{}').serverVersion?.gitVersion ?? '')
  const mismatch = version ? versionMismatch(config.kubernetesVersion, version) : undefined
  if (mismatch) throw new Error(`on-existing: reuse: the cluster on this host runs ${version}, but ${mismatch}. Nothing was changed. Set on-existing: reset to rebuild it at that version.`)
  const nodes = JSON.parse((await admin(['get', 'nodes', '-o', 'json'])).stdout || '{"items":[]}').items ?? []
  const node = nodes[0] ? nodeFacts(nodes[0]) : { name: '', ip: '', ready: false, why: 'no node' }
  if (!node.ready) io.warning(`on-existing: reuse: the node ${node.name || '(none registered)'} is not Ready (${node.why}).`)
  // "containerd://2.2.1", "docker://28.0.4": the store the kubelet takes images from
  const runtime = String(nodes[0]?.status?.nodeInfo?.containerRuntimeVersion ?? '').split('://')[0]
  if (runtime && runtime !== config.containerRuntime) {
    const what = `the cluster on this host runs on ${runtime}, but container-runtime is '${config.containerRuntime}'`
    if (config.loadImages.length > 0) {
      throw new Error(`on-existing: reuse: ${what}, so load-images would go where the kubelet does not look. Nothing was changed. Set container-runtime: ${runtime}, or on-existing: reset to rebuild it.`)
    }
    io.warning(`on-existing: reuse: ${what}; the cluster is reused as it is.`)
  }

  // the cluster's own admin.conf, copied for the runner user as init.kubeconfig does; never a
  // path read from the ledger, which could point KUBECONFIG at any server
  await install(paths.adminConf, kubeconfig)

  const out: Reused = { version, kubeconfig, nodeName: node.name, nodeIp: node.ip, addonOutputs: {} }
  const status = (url: string): Promise<number> => httpStatus(url, Math.min(config.timeoutSeconds, 10) * 1000).catch(() => 0)
  const get = async (args: string[]): Promise<any> => {
    const r = await admin(['get', ...args, '-o', 'json'])
    return r.exitCode === 0 ? JSON.parse(r.stdout) : undefined
  }
  const svc = await get(['service', SMOKE.name, '-n', SMOKE.namespace])
  const port = Number(svc?.spec?.ports?.[0]?.nodePort)
  if (Number.isInteger(port) && port > 0 && node.ip) {
    const url = `http://${node.ip}:${port}/`
    const answered = await status(url)
    if (answered === 200) Object.assign(out, { nodePort: port, nginxUrl: url })
    else io.warning(`on-existing: reuse: the smoke test's ${url} did not answer 200 (${answered || 'no answer'}); node-port and nginx-url are left empty.`)
  }
  for (const addon of enabledAddons(config)) {
    if (!earlierAddons?.includes(addon.input)) {
      const why = earlierAddons ? "the earlier run's ledger does not name it" : 'no earlier run is recorded'
      io.warning(`on-existing: reuse: ${addon.input} is not set up on the cluster here (${why}) and reuse builds nothing, so its outputs are left empty. Set on-existing: reset to build the cluster with it.`)
      continue
    }
    const given = (await addon.reusedOutputs?.(config, { get, status, smoke: SMOKE })) ?? {}
    if (typeof given === 'string') io.warning(`on-existing: reuse: ${addon.input}: ${given}; its outputs are left empty.`)
    else Object.assign(out.addonOutputs, given)
  }
  return out
}
