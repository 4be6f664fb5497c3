// runtime: Docker present (as the recipe has it), containerd configured whole for CRI and
// restarted, then waited for until its CRI plugin answers.
import { join } from 'node:path'
import { CONTAINERD_2_REQUIRED_MINOR } from '../defaults.js'
import { aptInstall } from '../host/apt.js'
import { pauseImage } from '../images.js'
import type { Op, Step } from '../plan.js'
import { parseContainerdVersion } from '../probe.js'
import { renderContainerdConfig, renderHostsToml } from '../render/containerd.js'
import { renderDaemonJson } from '../render/docker.js'
import { waitForContainerd } from '../runtime/ready.js'
import { FROM_KUBEADM } from '../state.js'
import { minorOf } from '../versions.js'
import { backupOf } from '../paths.js'
import type { PlanContext } from './context.js'

/** Copies a file the step will change to its backup; -n: a re-run keeps the first, original copy. */
function keepOriginal(path: string): Op {
  return { kind: 'exec', argv: ['cp', '-n', '-p', path, backupOf(path)], privileged: true }
}

export function runtimeSteps(p: PlanContext): Step[] {
  const { config, facts, version, paths, state, bin, criSocket } = p
  const steps: Step[] = []
  // runtime: Docker present (as the recipe has it), containerd serving CRI
  const runtimeNeeds = ['images.list']
  const installDocker = !facts.docker || !facts.containerd
  if (installDocker) {
    runtimeNeeds.push('runtime.docker')
    steps.push({
      id: 'runtime.docker',
      phase: 'runtime',
      title: `install Docker (${facts.docker ? 'containerd' : 'docker'} not found on this host)`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: 'apt-get install docker.io',
          shows: ['$ sudo apt-get install -y --no-install-recommends docker.io   (brings containerd; apt-get update first if that fails)'],
          run: async (ctx) => {
            await aptInstall(ctx, ['docker.io'])
            const v = parseContainerdVersion((await ctx.host.run(['containerd', '--version'])).stdout)
            if (!v) throw new Error('Docker was installed but `containerd --version` names no version')
            ctx.state.containerdMajor = v.major
            if (v.major < 2 && minorOf(version) >= CONTAINERD_2_REQUIRED_MINOR) {
              throw new Error(`The distribution's Docker brought containerd ${v.version}, but Kubernetes ${version} needs containerd 2.2+. Install Docker's containerd.io, or choose kubernetes-version 1.35.`)
            }
          }
        }
      ]
    })
  }
  const runtimeOps: Op[] = []
  if (facts.containerdConfigExists) runtimeOps.push(keepOriginal(paths.containerdConfig))
  runtimeOps.push({
    kind: 'write',
    path: paths.containerdConfig,
    render: (s) =>
      renderContainerdConfig({
        major: s.containerdMajor ?? 2,
        sandboxImage: pauseImage(s.kubeadmImages) ?? `${config.imageRepository}/pause:${FROM_KUBEADM}`,
        certsDir: paths.certsDir
      })
  })
  for (const mirror of config.registryMirrors) {
    runtimeOps.push({ kind: 'write', path: join(paths.certsDir, mirror.registry, 'hosts.toml'), render: () => renderHostsToml(mirror) })
  }
  runtimeOps.push({ kind: 'service', action: 'restart', unit: 'containerd' })
  steps.push({
    id: 'runtime.containerd',
    phase: 'runtime',
    title: `configure containerd ${facts.containerd?.version ?? '(installed with Docker)'} for CRI: layout version ${(state.containerdMajor ?? 2) >= 2 ? 3 : 2}, systemd cgroups, kubeadm's sandbox image`,
    needs: runtimeNeeds,
    ops: runtimeOps
  })
  const dockerHubMirrors = config.registryMirrors.find((m) => m.registry === 'docker.io')?.endpoints ?? []
  if (dockerHubMirrors.length > 0) {
    steps.push({
      id: 'runtime.docker-mirrors',
      phase: 'runtime',
      title: "Docker's registry-mirrors (for the workflow's own docker pulls)",
      needs: installDocker ? ['runtime.docker'] : [],
      ops: [
        ...(facts.daemonJsonExists ? [keepOriginal(paths.dockerDaemonJson)] : []),
        { kind: 'write', path: paths.dockerDaemonJson, render: () => renderDaemonJson(facts.daemonJson, { dockerHubMirrors }) },
        { kind: 'service', action: 'restart', unit: 'docker' }
      ]
    })
  }
  steps.push({
    id: 'runtime.cri',
    phase: 'runtime',
    title: 'wait until containerd serves CRI',
    needs: ['runtime.containerd', 'binaries.crictl'],
    ops: [
      {
        kind: 'task',
        title: `containerd answers and its CRI plugin is loaded, then crictl info on ${criSocket}`,
        shows: [
          `$ sudo ctr --address ${paths.containerdSocket} version   (polled for up to 60s)`,
          `$ sudo ctr --address ${paths.containerdSocket} plugins ls   (io.containerd.grpc.v1 cri must be ok)`,
          `$ sudo ${bin('crictl')} --runtime-endpoint ${criSocket} info`
        ],
        run: async (ctx) => {
          const version = await waitForContainerd({
            run: ctx.host.run,
            address: paths.containerdSocket,
            deadline: Date.now() + 60_000,
            logs: () => ctx.host.services.logs('containerd', 30)
          })
          ctx.log(`containerd ${version} serves CRI`)
          await ctx.host.run([bin('crictl'), '--runtime-endpoint', criSocket, 'info'], { privileged: true })
        }
      }
    ]
  })
  return steps
}
