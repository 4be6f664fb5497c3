// What stops a run before it changes anything: the host cannot act as root, cannot run the
// cluster, or still has one.
import { enabledAddons } from '../addons/index.js'
import type { Config } from '../config/inputs.js'
import { ON_EXISTING_FORMS } from '../inputs/table.js'
import type { Run } from '../host/exec.js'
import type { HostFacts } from '../host/probe.js'
import { loadImageProblems } from '../images/docker.js'
import type { Paths } from '../host/paths.js'
import type { RuntimeSetup } from '../runtimes/types.js'
import type { Plan } from '../phases/index.js'
import { inputFileProblems } from '../config/input-files.js'
import { offlineProblems, type OfflineProbe } from './offline.js'

export function hostProblems(config: Config, facts: HostFacts, paths: Paths, runtime: RuntimeSetup): string[] {
  const problems: string[] = []
  if (facts.privilege === 'none') {
    problems.push('The action must act as root: run it as root, or as a user with passwordless sudo (`sudo -n true` failed here): give the user that runs it a sudoers entry (GitHub-hosted runners have one).')
  }
  if (facts.existingCluster && config.onExisting === 'fail') {
    problems.push(
      `A cluster from an earlier run is still on this host (${paths.adminConf} exists), and input 'on-existing' is 'fail'; accepted: ${ON_EXISTING_FORMS}. Or remove it first: \`sudo kubeadm reset --force\`, or give the earlier run cleanup: true.`
    )
  }
  const dockerMirrors = config.registryMirrors.some((m) => m.registry === 'docker.io')
  if (dockerMirrors && facts.daemonJsonExists && facts.daemonJson === undefined) {
    problems.push(`Docker's ${paths.dockerDaemonJson} is not valid JSON, so the docker.io mirrors cannot be merged into it. Fix the file, or leave docker.io out of registry-mirrors.`)
  }
  if (facts.cpus < 2) problems.push(`kubeadm needs at least 2 CPUs; this host has ${facts.cpus}.`)
  problems.push(...runtime.problems)
  return problems
}

/**
 * Everything that stops a run before it changes anything: the input files', the images
 * load-images names and the add-ons' questions (asked of Docker, read-only), the host's, and with offline: true every
 * piece that is not on this machine.
 */
export async function preflight(config: Config, facts: HostFacts, paths: Paths, plan: Plan, version: string, run: Run, offline?: OfflineProbe): Promise<string[]> {
  return [
    ...(await inputFileProblems(config)),
    ...(await loadImageProblems(config.loadImages, facts, run)),
    ...(await Promise.all(enabledAddons(config).map((a) => a.hostProblems?.(config, facts, run) ?? []))).flat(),
    ...hostProblems(config, facts, paths, plan.runtime),
    ...(await offlineProblems(config, facts, version, plan, offline))
  ]
}
