// An add-on: something the cluster does not need but a user asks for by an input (a load
// balancer, a local registry). One folder per add-on, one line in ./index.ts. The phases call
// the hooks of the add-ons the configuration turns on; nothing generic names an add-on.
import type { Config } from '../config/inputs.js'
import type { Hint, Probe } from '../engine/diagnostics.js'
import type { PluginContext } from '../engine/plugin-context.js'
import type { Step, StepId } from '../engine/step.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'

export interface AddonPlugin {
  /** the input that turns it on: logs, errors and the ledger name the add-on by it */
  input: string
  /** on in this configuration */
  enabled(config: Config): boolean
  /** one line for the log and the summary */
  describe(config: Config): string
  /** the images its pods run: preloaded (and cached) with the cluster's own */
  images(config: Config): string[]
  /**
   * its steps, in the `addons` phase; each names the steps it needs (init.kubeconfig, a network
   * step). `planned`: the ids of the plan's steps of the earlier phases, for a step the plan
   * has on some hosts only (runtime.docker-mirrors)
   */
  steps(p: PluginContext, planned: ReadonlySet<StepId>): Step[]
  /** registries it serves on the host's loopback (localhost:PORT), which the runtime is told to pull from over plain HTTP (PluginContext.loopbackRegistries) */
  loopbackRegistries?(config: Config): string[]
  /**
   * what stops the run before anything changes, given the host (its networks, its runtime) and
   * the plan's earlier steps: refused with every other input problem, naming the input
   */
  problems?(p: PluginContext, planned: ReadonlySet<StepId>): string[]
  /**
   * what stops the run that only a read-only question to the host can tell (what Docker
   * holds): asked in the preflight, with the other input problems, before anything changes
   */
  hostProblems?(config: Config, facts: HostFacts, run: Run): Promise<string[]>
  /** the action's outputs it sets, by name, once the cluster is ready (action.yml declares each) */
  outputs?(config: Config): Record<string, string>
  /**
   * on-existing: reuse, where the earlier run turned this add-on on: its outputs (those of
   * `outputs` and any its steps learn), read from what that run left, which must still answer;
   * a string says why they are left empty
   */
  reusedOutputs?(config: Config, cluster: ReusedCluster): Promise<Record<string, string> | string>
  /** its downloads, for the offline preflight: each must be on this machine with offline: true */
  downloads?(config: Config): AddonDownload[]
  /** its checks in the smoke phase, beside the smoke test's own: `smoke` is what that deploys */
  smokeSteps?(p: PluginContext, smoke: SmokeTarget): Step[]
  diagnostics(paths: Paths, kubectl: string, kubeconfig: string): Probe[]
  hints: readonly Hint[]
}

export interface AddonDownload {
  what: string
  url: string
  /** the input that says where it comes from */
  input: string
}

/** The smoke test's workload, for an add-on that checks it another way. */
export interface SmokeTarget {
  name: string
  namespace: string
  /** the labels its pods carry, for a Service's selector */
  labels: Record<string, string>
  /** the step that deploys it */
  deployStep: StepId
}

/** What on-existing: reuse lets an add-on read of the cluster and host it takes as they are. */
export interface ReusedCluster {
  /** `kubectl get ARGS -o json` through the cluster's admin.conf; undefined where it fails */
  get(args: string[]): Promise<any>
  /** an HTTP GET's status, 0 where nothing answers */
  status(url: string): Promise<number>
  /** the smoke test's workload, which the earlier run deployed */
  smoke: { name: string; namespace: string }
}
