// containerd as the kubelet's runtime: Docker's own containerd on hosted runners (installed
// with Docker where missing), its config written whole for CRI, restarted, then waited for
// until its CRI plugin answers.
import { join } from 'node:path'
import { containerdRequirement, containerdSupported } from '../../config/kubernetes.js'
import { minorOf } from '../../config/versions.js'
import { FROM_KUBEADM } from '../../engine/learned.js'
import { step, type Step } from '../../engine/step.js'
import { aptInstallArgv } from '../../host/apt.js'
import { displayArgv } from '../../host/exec.js'
import type { Paths } from '../../host/paths.js'
import { parseContainerdVersion } from '../../host/probe.js'
import { journalArgv } from '../../host/services.js'
import { pauseImage } from '../../images/kubeadm.js'
import type { RuntimeDriver } from '../types.js'
import { renderContainerdConfig, renderHostsToml } from './config.js'
import { waitForContainerd } from './ready.js'
import { containerdStore, ctrArgv, ctrPullArgv, type ContainerdStoreOptions } from './store.js'

const storeOptions = (paths: Paths): ContainerdStoreOptions => ({ address: paths.containerdSocket, hostsDir: paths.certsDir })

function unsupported(version: string, containerd: string): string | undefined {
  const minor = minorOf(version)
  if (containerdSupported(minor, containerd) !== false) return undefined
  return `Kubernetes ${version} supports containerd ${containerdRequirement(minor)} (containerd's RELEASES.md), but this host has containerd ${containerd}. Upgrade containerd (Docker's containerd.io package), or choose a kubernetes-version that supports it.`
}

export const containerd: RuntimeDriver = {
  criSocket: (paths) => `unix://${paths.containerdSocket}`,

  problems(facts, version) {
    const why = facts.containerd && unsupported(version, facts.containerd.version)
    return why ? [why] : []
  },

  describe: (facts) => `containerd ${facts.containerd?.version ?? '(installed with Docker)'}`,

  steps(p): Step[] {
    const { config, facts, version, paths, learned, bin, criSocket } = p
    const steps: Step[] = []
    const installDocker = !facts.docker || !facts.containerd
    if (installDocker) {
      steps.push(
        step('runtime.install', `install Docker (${facts.docker ? 'containerd' : 'docker'} not found on this host)`, [], [
          {
            kind: 'task',
            title: 'apt-get install docker.io',
            shows: [`$ sudo ${aptInstallArgv(['docker.io']).join(' ')}   (brings containerd; apt-get update first if that fails; left installed by cleanup)`],
            run: async (ctx) => {
              await ctx.host.installPackages(['docker.io'], ctx.log)
              const v = parseContainerdVersion((await ctx.host.run(['containerd', '--version'])).stdout)
              if (!v) throw new Error('Docker was installed but `containerd --version` names no version')
              ctx.learned.containerdMajor = v.major
              const why = unsupported(version, v.version)
              if (why) throw new Error(`The distribution's Docker brought containerd ${v.version}. ${why}`)
            }
          }
        ])
      )
    }
    steps.push(
      step(
        'runtime.configure',
        `configure ${containerd.describe(facts)} for CRI: layout version ${(learned.containerdMajor ?? 2) >= 2 ? 3 : 2}, systemd cgroups, kubeadm's sandbox image`,
        ['config.images', ...(installDocker ? (['runtime.install'] as const) : [])],
        [
          {
            kind: 'write',
            path: paths.containerdConfig,
            render: (l) =>
              renderContainerdConfig({
                major: l.containerdMajor ?? 2,
                sandboxImage: pauseImage(l.kubeadmImages) ?? `${config.imageRepository}/pause:${FROM_KUBEADM}`,
                certsDir: paths.certsDir
              })
          },
          ...config.registryMirrors.map((mirror) => ({ kind: 'write' as const, path: join(paths.certsDir, mirror.registry, 'hosts.toml'), render: () => renderHostsToml(mirror) })),
          { kind: 'service', action: 'restart', unit: 'containerd' }
        ]
      )
    )
    steps.push(
      step('runtime.ready', 'wait until containerd serves CRI', ['runtime.configure', 'binaries.crictl'], [
        {
          kind: 'task',
          title: `containerd answers and its CRI plugin is loaded, then crictl info on ${criSocket}`,
          shows: [
            `$ sudo ${displayArgv(['ctr', '--address', paths.containerdSocket, 'version'])}   (polled for up to 60s)`,
            `$ sudo ${displayArgv(['ctr', '--address', paths.containerdSocket, 'plugins', 'ls'])}   (io.containerd.grpc.v1 cri must be ok)`,
            `$ sudo ${displayArgv([bin('crictl'), '--runtime-endpoint', criSocket, 'info'])}`
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
      ])
    )
    return steps
  },

  imageStore: (run, paths) => containerdStore(run, storeOptions(paths)),

  imageCommands(paths, learned) {
    const o = storeOptions(paths)
    return {
      list: () => ctrArgv(o, 'images', 'list', '--quiet'),
      // ctr 2.x takes --local to read the hosts directory as 1.x does
      pull: (ref) => ctrPullArgv(o, ref, (learned.containerdMajor ?? 2) >= 2),
      importArchive: (path) => ctrArgv(o, 'images', 'import', path)
    }
  },

  diagnostics: (paths) => [
    { title: 'containerd journal (last 80 lines)', argv: journalArgv('containerd', 80), privileged: true },
    { title: 'containers (crictl ps -a)', argv: [join(paths.binDir, 'crictl'), 'ps', '-a'], privileged: true, requires: [join(paths.binDir, 'crictl')] }
  ],

  hints: [
    { pattern: /unknown service runtime\.v1\.RuntimeService/, hint: "containerd's CRI plugin is disabled (disabled_plugins = [\"cri\"]): the action writes a config with CRI on; check that nothing rewrote /etc/containerd/config.toml." },
    { pattern: /failed to get sandbox image|pinned_images|sandbox image/i, hint: "The sandbox (pause) image is not the one kubeadm uses, or the mirror lacks it: image-repository's pause must match containerd's sandbox image." },
    { pattern: /cgroup driver|misconfiguration: kubelet cgroup driver/i, hint: 'Cgroup driver mismatch: containerd must run runc with SystemdCgroup = true, as the kubelet uses systemd.' }
  ]
}
