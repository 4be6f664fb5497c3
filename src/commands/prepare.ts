// From a parsed config to a plan: resolve the version, read the host (read-only), build
// the steps. Shared by every command, so the dry run and the run see the same plan.
import type { CacheBackend } from '../cache/backend.js'
import { InputError, type Config } from '../config/inputs.js'
import { resolveCniVersion } from '../cnis/latest.js'
import { fetchText, resolveVersion, type FetchText } from '../config/versions.js'
import type { Run } from '../host/exec.js'
import type { Paths } from '../host/paths.js'
import { probeHost, type HostFacts } from '../host/probe.js'
import { buildPlan, type Plan } from '../phases/index.js'
import { readKubeadmConfigFile } from '../config/input-files.js'
import { archiveIndexNames } from '../images/archive-index.js'

export interface Prepared {
  /** the config as planned: cni-version 'latest' resolved to a release */
  config: Config
  version: string
  facts: HostFacts
  plan: Plan
}

/**
 * Throws InputError where kubeadm-config's file cannot be read or does not fit the version and
 * inputs. cni-version 'latest' is resolved here, beside the Kubernetes version.
 */
export async function prepare(config: Config, run: Run, paths: Paths, get: FetchText = fetchText, cacheBackend?: CacheBackend, resolveCni = resolveCniVersion): Promise<Prepared> {
  const read = await readKubeadmConfigFile(config)
  const [version, facts, planned, archiveImages] = await Promise.all([
    resolveVersion(read.kubernetesVersion, read.kubernetesReleaseUrl, get),
    probeHost(run, paths),
    resolveCni(read),
    readArchiveNames(read.imageArchives)
  ])
  const plan = buildPlan({ config: planned, facts, version, paths, cacheBackend, archiveImages })
  if (plan.inputProblems.length > 0) throw new InputError(plan.inputProblems)
  return { config: planned, version, facts, plan }
}

/**
 * What each image archive declares, so that the plan names what it imports and pulls none of
 * it. One that cannot be read is left out: the input-file checks and the import say why.
 */
async function readArchiveNames(paths: readonly string[]): Promise<Record<string, string[]>> {
  const read = await Promise.all(paths.map(async (p) => [p, await archiveIndexNames(p).catch(() => undefined)] as const))
  return Object.fromEntries(read.filter((e): e is readonly [string, string[]] => e[1] !== undefined))
}

/**
 * The first line of every command's log: what is about to be built on what. The command line
 * runs on a host that may be no runner at all (RUNNER_ENVIRONMENT is a runner's), so there it
 * says "host".
 */
export function headline({ version, facts, plan }: Prepared, where: 'actions' | 'terminal' = 'actions'): string {
  const machine = where === 'terminal' ? 'this host' : `${facts.selfHosted ? 'self-hosted' : 'hosted'} runner`
  return `Kubernetes ${version} on ${facts.arch}, ${plan.runtime.describe}, ${facts.cpus} CPUs, ${machine}`
}
