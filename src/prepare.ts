// From a parsed config to a plan: resolve the version, read the host (read-only), build
// the steps. Shared by the action and the command line, so both show the same plan.
import type { Run } from './host/exec.js'
import type { Config } from './inputs.js'
import { HOST_PATHS, type Paths } from './paths.js'
import { probeHost, type HostFacts } from './probe.js'
import { buildPlan, type Plan } from './steps.js'
import { fetchText, resolveVersion, type FetchText } from './versions.js'

export interface Prepared {
  version: string
  facts: HostFacts
  plan: Plan
}

export async function prepare(config: Config, run: Run, paths: Paths = HOST_PATHS, get: FetchText = fetchText): Promise<Prepared> {
  const [version, facts] = await Promise.all([resolveVersion(config.kubernetesVersion, config.kubernetesReleaseUrl, get), probeHost(run, paths)])
  return { version, facts, plan: buildPlan({ config, facts, version, paths }) }
}
