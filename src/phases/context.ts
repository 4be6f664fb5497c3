// What every phase's steps are built from: the inputs, the host's facts, the chosen runtime
// and CNI, and the names derived from them once (binary paths, the action's own files, the
// downloads).
import { join } from 'node:path'
import type { CacheBackend } from '../cache/backend.js'
import { cacheKey } from '../cache/key.js'
import { CacheSession } from '../cache/session.js'
import { enabledAddons } from '../addons/index.js'
import { CNIS, type CniPlugin } from '../cnis/index.js'
import type { Config } from '../config/inputs.js'
import type { Learned } from '../engine/learned.js'
import type { PluginContext } from '../engine/plugin-context.js'
import type { Artifact } from '../host/download.js'
import type { Paths } from '../host/paths.js'
import type { HostFacts } from '../host/probe.js'
import { RUNTIMES } from '../runtimes/index.js'
import type { RuntimeSetup } from '../runtimes/types.js'
import { artifacts, type ArtifactName } from './artifacts.js'

export interface PlanInput {
  config: Config
  facts: HostFacts
  /** resolved, vX.Y.Z */
  version: string
  paths: Paths
  /** where cache entries live between runs; none, no cache */
  cacheBackend?: CacheBackend
  /** the names each image-archives file declares, read before the plan (absent: unreadable, or not read) */
  archiveImages?: Readonly<Record<string, readonly string[]>>
}

/** The phases' context: what the plug-ins are handed, and the plug-ins themselves. */
export interface PlanContext extends PlanInput, PluginContext {
  /** warnings worth a line in the log and the summary */
  notes: string[]
  runtime: RuntimeSetup
  cni: CniPlugin
  arts: Record<ArtifactName, Artifact>
  /** the smoke test runs: asked for, and a CNI to carry it */
  smokeTest: boolean
  /** the run's cache entry, when the cache input is on and entries can be kept here */
  cache?: CacheSession
}

export function planContext(input: PlanInput, learned: Learned): PlanContext {
  const { config, facts, version, paths } = input
  const runtime = RUNTIMES[config.containerRuntime].setup(facts, version, paths)
  const cni = CNIS[config.cni]
  // A kubeconfig the user already has (a self-hosted runner's) is never overwritten.
  const kubeconfig = join(facts.user.home, '.kube', facts.kubeconfigExists ? 'kubeadm-single-node.config' : 'config')
  const notes = [...config.notes, ...runtime.notes]
  if (facts.kubeconfigExists) notes.push(`~/.kube/config already exists and is left alone; this cluster's kubeconfig is ${kubeconfig} (KUBECONFIG points at it).`)
  // parseInputs turns smoke-test off by default for a CNI that carries no pods, and refuses it on
  const smokeTest = config.smokeTest && cni.carriesPods
  let cache: CacheSession | undefined
  // offline needs no network at all, and GitHub's cache service is one
  if (config.cache && !config.offline && input.cacheBackend) {
    const why = input.cacheBackend.unavailable()
    if (why) notes.push(`cache: ${why}; everything is downloaded and pulled, and nothing is saved.`)
    else cache = new CacheSession(input.cacheBackend, input.cacheBackend.workDir, cacheKey(config, version, facts.arch))
  }
  return {
    ...input,
    learned,
    notes,
    runtime,
    cni,
    criSocket: runtime.criSocket,
    bin: (name) => join(paths.binDir, name),
    files: {
      kubeadmConfig: join(paths.stateDir, 'kubeadm.yaml'),
      cniManifest: join(paths.stateDir, 'cni.yaml'),
      smokeManifest: join(paths.stateDir, 'smoke.yaml'),
      kubeconfig
    },
    kubeEnv: { KUBECONFIG: kubeconfig },
    loopbackRegistries: enabledAddons(config).flatMap((a) => a.loopbackRegistries?.(config) ?? []),
    arts: artifacts(config, version, facts.arch),
    smokeTest,
    cache
  }
}
