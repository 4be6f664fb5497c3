// images: everything the cluster will ask for is in the runtime before kubeadm init:
// archives imported, what is there kept, the rest pulled concurrently.
import { step, type Step } from '../engine/step.js'
import { FROM_KUBEADM, type Learned } from '../engine/learned.js'
import { displayArgv } from '../host/exec.js'
import { imagesToPreload } from '../images/kubeadm.js'
import { preloadImages } from '../images/preload.js'
import { registryHosts } from '../runtimes/containerd/config.js'
import type { Config } from '../config/inputs.js'
import type { PlanContext } from './context.js'

/** Where pulls for a registry go, mirrors first: for error messages. */
export function pullEndpoints(config: Config, registry: string): string[] {
  const { server, mirrors } = registryHosts(config.registryMirrors.find((m) => m.registry === registry) ?? { registry, endpoints: [] })
  return [...mirrors, server]
}

export function imageSteps(p: PlanContext): Step[] {
  const { config, learned, smokeTest, runtime } = p
  // what the dry run predicts and what the run learns, from the same rule
  const preloadSet = (l: Learned): string[] =>
    imagesToPreload({ kubeadm: l.kubeadmImages, cni: l.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: config.preloadImages })
  const cmd = runtime.imageCommands(learned)
  const needs = p.cni.configSteps(p).map((s) => s.id)
  return [
    step('images.preload', 'preload every image the cluster will ask for', ['runtime.ready', 'config.images', ...needs], [
      {
        kind: 'task',
        title: 'import archives, then pull what is missing (4 at a time)',
        shows: [
          ...config.imageArchives.map((a) => `$ sudo ${displayArgv(cmd.importArchive(a))}`),
          `$ sudo ${displayArgv(cmd.list())}   (what is already there is kept)`,
          ...preloadSet(learned).map((i) => `$ sudo ${displayArgv(cmd.pull(i))}`),
          ...(learned.kubeadmImages.length === 0 ? [`and each of kubeadm's own images, ${FROM_KUBEADM}`] : [])
        ],
        run: async (ctx) => {
          const store = runtime.imageStore(ctx.host.run)
          const res = await preloadImages(store, { images: preloadSet(ctx.learned), archives: config.imageArchives, whereFor: (r) => pullEndpoints(config, r), log: ctx.log })
          ctx.learned.imageCounts = { present: res.present.length, pulled: res.pulled.length, imported: res.imported.length }
        }
      }
    ])
  ]
}
