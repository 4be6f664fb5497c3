// images: kubeadm names its images, the CNI manifest names its own, and everything is in
// the runtime before kubeadm init.
import { readFile, rm } from 'node:fs/promises'
import * as tc from '@actions/tool-cache'
import { FLANNEL } from '../defaults.js'
import { displayArgv } from '../host/exec.js'
import { imagesToPreload, parseKubeadmImageList } from '../images.js'
import type { Config } from '../inputs.js'
import type { Step } from '../plan.js'
import { registryHosts } from '../render/containerd.js'
import { renderFlannelManifest } from '../render/flannel.js'
import { containerdStore, ctrArgv, ctrPullArgv } from '../runtime/driver.js'
import { preloadImages } from '../runtime/preload.js'
import { FROM_KUBEADM, type RunState } from '../state.js'
import type { PlanContext } from './context.js'

export function flannelManifestSource(config: Config): string {
  return config.cniManifest ?? `${config.githubUrl}/flannel-io/flannel/releases/download/${FLANNEL.version}/kube-flannel.yml`
}

/** Where pulls for a registry go, mirrors first: for error messages. */
export function pullEndpoints(config: Config, registry: string): string[] {
  const { server, mirrors } = registryHosts(config.registryMirrors.find((m) => m.registry === registry) ?? { registry, endpoints: [] })
  return [...mirrors, server]
}

export function imageSteps(p: PlanContext): Step[] {
  const { config, paths, state, bin, files, smokeTest } = p
  const steps: Step[] = []
  steps.push({
    id: 'images.list',
    phase: 'images',
    title: 'ask kubeadm which images it will use',
    needs: ['binaries.kubeadm', 'init.config'],
    ops: [
      {
        kind: 'task',
        title: 'kubeadm config images list',
        shows: [`$ ${bin('kubeadm')} config images list --config ${files.kubeadmConfig}`, `predicted: ${state.kubeadmImages.join(' ') || FROM_KUBEADM}`],
        run: async (ctx) => {
          const res = await ctx.host.run([bin('kubeadm'), 'config', 'images', 'list', '--config', files.kubeadmConfig], { privileged: true })
          ctx.state.kubeadmImages = parseKubeadmImageList(res.stdout)
          ctx.log(ctx.state.kubeadmImages.join('\n'))
        }
      }
    ]
  })


  // images: the CNI manifest names its images; everything is pulled before init
  const preloadNeeds = ['runtime.cri', 'images.list']
  if (config.cni === 'flannel') {
    const source = flannelManifestSource(config)
    preloadNeeds.push('images.cni')
    steps.push({
      id: 'images.cni',
      phase: 'images',
      title: `flannel manifest (${config.cniManifest ? 'given' : FLANNEL.version}), net-conf Network = ${config.podNetworkCidr}`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: 'fetch and render the flannel manifest',
          shows: [/^https?:/.test(source) ? `GET ${source}` : `read ${source}`, `set net-conf.json Network to ${config.podNetworkCidr}; write ${files.cniManifest}`, `images: ${state.cniImages.join(' ') || '(read from the manifest)'}`],
          run: async (ctx) => {
            let text: string
            if (/^https?:/.test(source)) {
              const file = await tc.downloadTool(source)
              text = await readFile(file, 'utf8')
              await rm(file, { force: true })
            } else {
              text = await readFile(source, 'utf8')
            }
            const rendered = renderFlannelManifest(text, config.podNetworkCidr)
            ctx.state.cniImages = rendered.images
            ctx.state.cniManifestPath = files.cniManifest
            await ctx.host.writeFile(files.cniManifest, rendered.manifest)
            ctx.log(`manifest images: ${rendered.images.join(', ')}`)
          }
        }
      ]
    })
  }
  const store = { address: paths.containerdSocket, hostsDir: paths.certsDir }
  // what the dry run predicts and what the run learns, from the same rule
  const preloadSet = (s: RunState): string[] =>
    imagesToPreload({ kubeadm: s.kubeadmImages, cni: s.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: config.preloadImages })
  steps.push({
    id: 'images.preload',
    phase: 'images',
    title: 'preload every image the cluster will ask for',
    needs: preloadNeeds,
    ops: [
      {
        kind: 'task',
        title: 'import archives, then pull what is missing (4 at a time)',
        shows: [
          ...config.imageArchives.map((a) => `$ sudo ${displayArgv(ctrArgv(store, 'images', 'import', a))}`),
          `$ sudo ${displayArgv(ctrArgv(store, 'images', 'list', '--quiet'))}   (what is already there is kept)`,
          ...preloadSet(state).map((i) => `$ sudo ${displayArgv(ctrPullArgv(store, i, (state.containerdMajor ?? 2) >= 2))}`),
          ...(state.kubeadmImages.length === 0 ? [`and each of kubeadm's own images, ${FROM_KUBEADM}`] : [])
        ],
        run: async (ctx) => {
          const res = await preloadImages(containerdStore(ctx.host.run, store), { images: preloadSet(ctx.state), archives: config.imageArchives, whereFor: (r) => pullEndpoints(config, r), log: ctx.log })
          ctx.state.imageCounts = { present: res.present.length, pulled: res.pulled.length, imported: res.imported.length }
        }
      }
    ]
  })
  return steps
}
