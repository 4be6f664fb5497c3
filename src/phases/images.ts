// images: everything the cluster will ask for is in the runtime before kubeadm init:
// archives imported, what is there kept, the rest pulled concurrently, then each
// image-retags SOURCE tagged as its TARGET (what a mirror names differently).
import { entryLayout } from '../cache/entry.js'
import { step, type Step } from '../engine/step.js'
import { FROM_KUBEADM, type Learned } from '../engine/learned.js'
import { displayArgv } from '../host/exec.js'
import { imagesToPreload } from '../images/kubeadm.js'
import { preloadImages, pullOrder } from '../images/preload.js'
import { registryHosts } from '../runtimes/containerd/config.js'
import type { Config } from '../config/inputs.js'
import type { ImageStore } from '../images/store.js'
import type { PlanContext } from './context.js'

/** Where pulls for a registry go, mirrors first: for error messages. */
export function pullEndpoints(config: Config, registry: string): string[] {
  const { server, mirrors } = registryHosts(config.registryMirrors.find((m) => m.registry === registry) ?? { registry, endpoints: [] })
  return [...mirrors, server]
}

/**
 * What the preload puts in the store: every image the cluster will ask for and every
 * image-retags SOURCE, but no TARGET: the retag after the preload makes those.
 */
export function preloadSet(config: Config, learned: Learned, smokeTest: boolean): string[] {
  const targets = new Set(config.imageRetags.map((r) => r.target))
  const sources = config.imageRetags.map((r) => r.source)
  return imagesToPreload({ kubeadm: learned.kubeadmImages, cni: learned.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: [...config.preloadImages, ...sources] }).filter(
    (i) => !targets.has(i)
  )
}

/** Tags each SOURCE as its TARGET, in the order given; the sources are in the store by now. */
export async function retagImages(store: ImageStore, retags: Config['imageRetags'], log: (line: string) => void): Promise<void> {
  for (const { source, target } of retags) {
    await store.tag(source, target).catch((err: unknown) => {
      throw new Error(`Could not tag ${source} as ${target} (image-retags): ${(err as Error).message}`, { cause: err })
    })
    log(`tagged ${source} as ${target}`)
  }
}

/**
 * Imports the cache entry's images. A damaged archive (the import checks every blob's digest)
 * is a warning: the preload pulls what it did not bring.
 */
export async function importCached(store: ImageStore, archive: string, warn: (w: string) => void, log: (line: string) => void): Promise<string[]> {
  try {
    const names = await store.importArchive(archive)
    log(`imported ${names.length} images from the cache entry`)
    return names
  } catch (err) {
    warn(`The cache entry's images could not be imported (${(err as Error).message.split('\n')[0]}); they are pulled instead.`)
    return []
  }
}

export function imageSteps(p: PlanContext): Step[] {
  const { config, learned, smokeTest, runtime, cache } = p
  // what the dry run predicts and what the run learns, from the same rule
  const images = (l: Learned): string[] => preloadSet(config, l, smokeTest)
  const cmd = runtime.imageCommands(learned)
  const needs = p.cni.configSteps(p).map((s) => s.id)
  if (cache) needs.push('cache.restore')
  const cached = cache && entryLayout(cache.dir).images
  return [
    step('images.preload', 'preload every image the cluster will ask for', ['runtime.ready', 'config.images', ...needs], [
      {
        kind: 'task',
        title: `import archives, then pull what is missing (4 at a time, the largest first)${config.imageRetags.length ? ', then retag' : ''}`,
        shows: [
          ...(cached ? [`$ sudo ${displayArgv(cmd.importArchive(cached))}   (when the cache entry has images; a failure is a warning)`] : []),
          ...config.imageArchives.map((a) => `$ sudo ${displayArgv(cmd.importArchive(a))}`),
          `$ sudo ${displayArgv(cmd.list())}   (what is already there is kept)`,
          ...pullOrder(images(learned)).map((i) => `$ sudo ${displayArgv(cmd.pull(i))}`),
          ...(learned.kubeadmImages.length === 0 ? [`and each of kubeadm's own images, ${FROM_KUBEADM}`] : []),
          ...config.imageRetags.map((r) => `$ sudo ${displayArgv(cmd.tag(r.source, r.target))}   (image-retags: ${r.target} is not pulled)`)
        ],
        run: async (ctx) => {
          const store = runtime.imageStore(ctx.host.run)
          const archive = cache?.imageArchive()
          const fromCache = archive ? await importCached(store, archive, (w) => cache!.warnings.push(w), ctx.log) : []
          const res = await preloadImages(store, { images: images(ctx.learned), archives: config.imageArchives, whereFor: (r) => pullEndpoints(config, r), log: ctx.log })
          await retagImages(store, config.imageRetags, ctx.log)
          ctx.learned.preloaded = images(ctx.learned)
          const cachedSet = new Set(fromCache)
          ctx.learned.imageCounts = {
            present: res.present.filter((i) => !cachedSet.has(i)).length,
            pulled: res.pulled.length,
            imported: res.imported.length,
            cached: res.present.filter((i) => cachedSet.has(i)).length
          }
        }
      }
    ])
  ]
}
