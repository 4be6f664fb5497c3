// runtime: the chosen runtime's driver owns this phase (install where missing, configure,
// restart, wait until it serves CRI). Docker's own registry mirrors, for the workflow's
// own docker pulls, are set whatever the runtime.
import { step, type Op, type Step } from '../engine/step.js'
import { displayArgv } from '../host/exec.js'
import { installArgv } from '../host/host.js'
import { systemctlArgv } from '../host/services.js'
import { renderDaemonJson } from '../render/docker.js'
import type { PlanContext } from './context.js'

export function runtimeSteps(p: PlanContext): Step[] {
  const { config, facts, paths } = p
  const steps = p.runtime.steps(p)
  const dockerHubMirrors = config.registryMirrors.find((m) => m.registry === 'docker.io')?.endpoints ?? []
  const installed = steps.some((s) => s.id === 'runtime.install')
  // a driver that writes daemon.json itself (docker, for its cgroup driver) gives it the mirrors too
  const driverWrites = steps.some((s) => s.ops.some((o) => o.kind === 'write' && o.path === paths.dockerDaemonJson))
  // a host with containerd and no Docker (a kubeadm VM) has no dockerd to give mirrors to
  if (dockerHubMirrors.length > 0 && (facts.docker || installed) && !driverWrites) {
    steps.push(
      // registry-mirrors is a setting dockerd reloads on SIGHUP: a reload keeps the job's
      // service containers running, where a restart would stop them
      step('runtime.docker-mirrors', "Docker's registry-mirrors (for the workflow's own docker pulls)", installed ? ['runtime.install'] : [], [
        { kind: 'write', path: paths.dockerDaemonJson, render: () => renderDaemonJson(facts.daemonJson, { dockerHubMirrors }) },
        ...(facts.daemonJson && 'registry-mirrors' in facts.daemonJson ? [] : [clearMirrorsOnUndo(paths.dockerDaemonJson, facts.daemonJson)]),
        { kind: 'service', action: 'reload', unit: 'docker' }
      ])
    )
  }
  return steps
}

/**
 * dockerd's reload applies registry-mirrors only when the file sets the key (moby's
 * reloadRegistryConfig checks IsValueSet), so putting back a daemon.json without it would
 * leave the action's mirrors in the running daemon. Cleanup therefore first reloads with the
 * host's settings and an explicit empty list, then puts the original bytes back.
 */
function clearMirrorsOnUndo(path: string, original: Record<string, unknown> | undefined): Op {
  const cleared = renderDaemonJson({ ...(original ?? {}), 'registry-mirrors': [] }, { dockerHubMirrors: [] })
  return {
    kind: 'task',
    title: "keep a daemon.json that clears the mirrors, for cleanup's reload",
    shows: [`(cleanup: $ sudo ${displayArgv(installArgv('<the host\'s daemon.json with "registry-mirrors": []>', path))}; $ sudo ${displayArgv(systemctlArgv('reload', 'docker'))}; then the original back)`],
    run: async (ctx) => {
      const kept = await ctx.host.keep('daemon.json.cleared', cleared)
      ctx.host.undoWith("Docker's mirrors cleared by a reload", [installArgv(kept, path), systemctlArgv('reload', 'docker')])
    }
  }
}
