// config: what the cluster will be and what it will ask for, before the runtime is touched:
// kubeadm's configuration, the images kubeadm names from it, and the CNI's manifest and images.
import { step, type Step } from '../engine/step.js'
import { FROM_KUBEADM } from '../engine/learned.js'
import { displayArgv } from '../host/exec.js'
import { parseKubeadmImageList } from '../images/kubeadm.js'
import { renderKubeadmConfig } from '../render/kubeadm.js'
import type { PlanContext } from './context.js'

export function kubeadmImagesListArgv(kubeadm: string, config: string): string[] {
  return [kubeadm, 'config', 'images', 'list', '--config', config]
}

export function configSteps(p: PlanContext): Step[] {
  const { config, version, bin, files, criSocket, learned } = p
  const list = kubeadmImagesListArgv(bin('kubeadm'), files.kubeadmConfig)
  return [
    step('config.kubeadm', 'kubeadm configuration', [], [
      {
        kind: 'write',
        path: files.kubeadmConfig,
        mode: 0o600,
        render: () =>
          renderKubeadmConfig({
            kubernetesVersion: version,
            criSocket,
            podSubnet: config.podNetworkCidr,
            serviceSubnet: config.serviceCidr,
            imageRepository: config.imageRepository,
            untaint: config.untaint
          })
      }
    ]),
    step('config.images', 'ask kubeadm which images it will use', ['binaries.kubeadm', 'config.kubeadm'], [
      {
        kind: 'task',
        title: 'kubeadm config images list',
        shows: [`$ sudo ${displayArgv(list)}`, `predicted: ${learned.kubeadmImages.join(' ') || FROM_KUBEADM}`],
        run: async (ctx) => {
          const res = await ctx.host.run(list, { privileged: true })
          ctx.learned.kubeadmImages = parseKubeadmImageList(res.stdout)
          ctx.log(ctx.learned.kubeadmImages.join('\n'))
        }
      }
    ]),
    ...p.cni.configSteps(p)
  ]
}
