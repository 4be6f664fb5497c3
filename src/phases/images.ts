// images: everything the cluster will ask for is in the runtime before kubeadm init:
// archives imported, what is there kept, the rest pulled concurrently, then each
// image-retags SOURCE tagged as its TARGET (what a mirror names differently).
import { entryLayout } from '../cache/entry.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { imageTagsFor } from '../config/kubernetes.js'
import { step, type Step } from '../engine/step.js'
import { FROM_KUBEADM, type Learned } from '../engine/learned.js'
import { displayArgv } from '../host/exec.js'
import { dockerSaveArgv } from '../images/docker.js'
import { imagesToPreload } from '../images/kubeadm.js'
import { pullCredential, usesCredentials } from '../images/credentials.js'
import { archiveIndexNames } from '../images/archive-index.js'
import { normalizeImage } from '../images/ref.js'
import { preloadImages, pullOrder } from '../images/preload.js'
import { pullEndpoints } from '../images/mirrors.js'
import type { Config, ImagesInputs, SmokeInputs } from '../config/inputs.js'
import type { ImageStore } from '../images/store.js'
import type { PlanContext } from './context.js'

/**
 * What the preload puts in the store: every image the cluster will ask for and every
 * image-retags SOURCE, but no TARGET: the retag after the preload makes those.
 */
export function preloadSet(config: ImagesInputs & SmokeInputs, learned: Learned, smokeTest: boolean): string[] {
  const targets = new Set(config.imageRetags.map((r) => r.target))
  const sources = config.imageRetags.map((r) => r.source)
  return imagesToPreload({ kubeadm: learned.kubeadmImages, cni: learned.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: [...config.preloadImages, ...(learned.addonImages ?? []), ...sources] }).filter(
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

/** Which names a cache entry may bring into the store: the plan's, and none the user brought. */
export interface CachedNames {
  /** the images this run's preload asks for */
  wanted: ReadonlySet<string>
  /** names load-images and image-archives bring: the user's own, never shadowed by an entry */
  users: ReadonlySet<string>
}

/**
 * Imports the cache entry's images. The archive's declared names are read first (the bounded
 * reader): an entry that names an image the plan does not ask for, or one the user brings,
 * is not imported at all, since an import cannot be undone name by name, and a name it
 * overwrote would be lost. A damaged archive (the import checks every blob's digest) is a
 * warning too: the preload pulls what it did not bring.
 *
 * The reader follows containerd's importer (archive-index.ts), but should the two ever read
 * an archive differently, the store is listed before and after the import as well: a name
 * the import added that the plan does not ask for, or that load-images or image-archives
 * bring, is removed again, with a warning. (A name that was there before and that the import
 * pointed elsewhere shows in no list of names; the reader's refusals are what keep that out.)
 */
export async function importCached(store: ImageStore, archive: string, allowed: CachedNames, warn: (w: string) => void, log: (line: string) => void): Promise<string[]> {
  try {
    const declared = await archiveIndexNames(archive, 'cache entry')
    const outside = declared.filter((n) => !allowed.wanted.has(n))
    const shadowing = declared.filter((n) => allowed.users.has(n))
    if (outside.length || shadowing.length) {
      const why = [
        ...(outside.length ? [`names ${outside.join(', ')}, which this run does not ask for`] : []),
        ...(shadowing.length ? [`would replace ${shadowing.join(', ')}, which load-images or image-archives bring`] : [])
      ].join(', and ')
      warn(`The cache entry's image archive was not imported: it ${why}. Its images are pulled instead.`)
      return []
    }
    const before = await store.list()
    let names: string[]
    try {
      names = await store.importArchive(archive, 'cache entry')
    } finally {
      // also after a failed import: ctr registers each image as it goes
      await removeStrays(store, before, allowed, warn)
    }
    log(`imported ${names.length} images from the cache entry`)
    return names
  } catch (err) {
    warn(`The cache entry's images could not be imported (${(err as Error).message.split('\n')[0]}); they are pulled instead.`)
    return []
  }
}

/** Removes what an import added beyond the plan, or over a name the user brings; warns when it does. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/

async function removeStrays(store: ImageStore, before: ReadonlySet<string>, allowed: CachedNames, warn: (w: string) => void): Promise<void> {
  // Docker lists a Docker Hub image under its short name too: judged by the full name
  const full = (n: string): string | undefined => {
    try {
      return normalizeImage(n)
    } catch {
      return undefined
    }
  }
  const strays = [...(await store.list())].filter((n) => {
    // containerd's CRI plugin keeps a reference named by each image's ID, `sha256:<config
    // digest>` (the ImageRef its PullImage returns; createImageReference in its image
    // service), and makes one for what an import brings too (seen on 1.6 and 2.1 in the bed
    // test): its bookkeeping, not a name the archive gave
    if (before.has(n) || IMAGE_ID.test(n)) return false
    const f = full(n)
    return f === undefined || !allowed.wanted.has(f) || allowed.users.has(f)
  })
  if (strays.length === 0) return
  await store.remove(strays)
  warn(`The cache entry's import brought ${strays.join(', ')}, which its archive did not declare, which this run does not ask for, or which load-images or image-archives bring; removed again.`)
}

/**
 * load-images: `docker save` of every named image into one temporary file, imported by the
 * runtime's store, which confirms each name arrived. The file is the action's scratch, not
 * a host change: it is gone when the step ends, whatever happened.
 */
function loadStep(p: PlanContext): Step {
  const { config, runtime, facts, learned } = p
  const images = config.loadImages
  const cmd = runtime.imageCommands(learned, config.registryMirrors)
  const file = '<temporary directory>/images.tar'
  return step('images.load', `load ${images.length} image${images.length === 1 ? '' : 's'} from Docker`, ['runtime.ready'], [
    {
      kind: 'task',
      title: 'docker save, then import into the runtime',
      shows: [
        `$ ${displayArgv(dockerSaveArgv(file, images))}   (as this user; with sudo where only root may use Docker's socket)`,
        `$ sudo ${displayArgv(cmd.importArchive(file))}`,
        `$ sudo ${displayArgv(cmd.list())}   (each name must be there)`,
        `then the temporary file is removed`
      ],
      run: async (ctx) => {
        // the probe asked Docker once, before the plan; preflight stopped the run where it did not answer
        const engine = facts.dockerEngine
        if (!engine) throw new Error(`load-images: this host's Docker does not answer: ${facts.dockerProblem ?? 'no answer to docker info'}`)
        const dir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'ksn-load-'))
        try {
          const tar = join(dir, 'images.tar')
          await ctx.host.run(dockerSaveArgv(tar, images), { privileged: engine.via === 'root' })
          const names = await runtime.imageStore(ctx.host.run, config.registryMirrors).importArchive(tar, 'load-images')
          const missing = images.filter((i) => !names.includes(i))
          if (missing.length) throw new Error(`load-images: docker save wrote no name for ${missing.join(', ')} (it brought ${names.join(', ') || 'none'})`)
          ctx.log(`loaded from Docker: ${names.join(', ')}`)
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
      }
    }
  ])
}

export function imageSteps(p: PlanContext): Step[] {
  const { config, learned, smokeTest, runtime, cache } = p
  // what the dry run predicts and what the run learns, from the same rule
  const images = (l: Learned): string[] => preloadSet(config, l, smokeTest)
  const cmd = runtime.imageCommands(learned, config.registryMirrors)
  const needs = p.cni.configSteps(p).map((s) => s.id)
  if (cache) needs.push('cache.restore')
  const cached = cache && entryLayout(cache.dir).images
  const load = config.loadImages.length > 0 ? [loadStep(p)] : []
  // what load-images brings is there before the preload, and what the archives declare (read
  // before the plan) is imported: neither is pulled
  const archived = (a: string): readonly string[] | undefined => p.archiveImages?.[a]
  const loaded = new Set([...config.loadImages, ...config.imageArchives.flatMap((a) => archived(a) ?? [])])
  const unread = config.imageArchives.filter((a) => archived(a) === undefined)
  // Where the version table names kubeadm's images for this very release and nothing can
  // change them, they are pulled while kubeadm itself is still downloading: the preload would
  // otherwise wait for `kubeadm config images list`, and the link would carry the binaries and
  // the images one after the other (bench:fetch). The preload then pulls only what kubeadm
  // names beyond the prediction. Not with what decides the images otherwise: archives and
  // loaded images (brought, not pulled), a cache entry (imported first), kubeadm-config (it may
  // name other images), offline (nothing is pulled).
  const early =
    !config.offline && !cache && config.imageArchives.length === 0 && config.loadImages.length === 0 && !config.kubeadmConfig && imageTagsFor(p.version)?.checked === true
      ? [earlyStep(p)]
      : []
  return [
    ...load,
    ...early,
    // after the load: what it brought is present, and not pulled
    step('images.preload', 'preload every image the cluster will ask for', ['runtime.ready', 'config.images', ...needs, ...load.map((s) => s.id), ...early.map((s) => s.id)], [
      {
        kind: 'task',
        title: `import archives, then ${config.offline ? 'check that nothing is missing (offline)' : 'pull what is missing (4 at a time, the largest first)'}${config.imageRetags.length ? ', then retag' : ''}`,
        shows: [
          ...(cached ? [`$ sudo ${displayArgv(cmd.importArchive(cached))}   (when the cache entry has images; a failure is a warning; a name it adds beyond the plan is removed again)`] : []),
          ...config.imageArchives.map((a) => `$ sudo ${displayArgv(cmd.importArchive(a))}${archived(a) ? `   (brings ${archived(a)!.join(' ') || 'no named image'})` : ''}`),
          `$ sudo ${displayArgv(cmd.list())}   (what is already there is kept)`,
          ...(unread.length > 0 && !config.offline ? [`(${unread.join(', ')} could not be read now: an image it brings is imported, not pulled, and a pull below is only for what no archive brings)`] : []),
          ...(config.offline
            ? [`offline: nothing is pulled; each of ${images(learned).join(' ') || "kubeadm's images"} must be present or imported, else the step stops`]
            : pullOrder(images(learned).filter((i) => !loaded.has(i))).map((i) => {
                const inRequest = runtime.credentialsInRequest(learned)
                const cred = pullCredential(config, i, inRequest)
                const how = inRequest
                  ? `registry-credentials for ${cred?.registry}: through the CRI, base64 USERNAME:TOKEN on standard input, which the script gives crictl as CRICTL_AUTH`
                  : 'registry-credentials: through the CRI, which reads them from its config'
                return `$ ${cmd.pull(i, cred).map((a) => `sudo ${displayArgv(a)}`).join(' && ')}${cred ? `   (${how})` : ''}`
              })),
          ...(learned.kubeadmImages.length === 0 && !config.offline ? [`and each of kubeadm's own images, ${FROM_KUBEADM}`] : []),
          ...config.imageRetags.map((r) => `$ sudo ${displayArgv(cmd.tag(r.source, r.target))}   (image-retags: ${r.target} is not pulled)`)
        ],
        run: async (ctx) => {
          const store = runtime.imageStore(ctx.host.run, config.registryMirrors)
          const archive = cache?.imageArchive()
          const wanted = new Set(images(ctx.learned))
          // read before the plan where they could be (prepare), so a large archive is not scanned again
          const archived = await Promise.all(config.imageArchives.map(async (a) => p.archiveImages?.[a] ?? (await archiveIndexNames(a).catch(() => [] as string[]))))
          const users = new Set([...config.loadImages, ...archived.flat()])
          const fromCache = archive ? await importCached(store, archive, { wanted, users }, (w) => cache!.warnings.push(w), ctx.log) : []
          const res = await preloadImages(store, { images: images(ctx.learned), archives: config.imageArchives, pull: !config.offline, whereFor: (r) => pullEndpoints(config.registryMirrors, r), credentials: (i) => pullCredential(config, i, runtime.credentialsInRequest(ctx.learned)), log: ctx.log })
          await retagImages(store, config.imageRetags, ctx.log)
          ctx.learned.preloaded = images(ctx.learned)
          // what a cache entry may hold: only what the action itself pulled from a registry,
          // anonymously, this run or an earlier one (an entry is readable by every run of the
          // repository, forks' pull requests included); never what was there before the run,
          // what load-images or image-archives brought, or a pull with registry-credentials
          const fromArchives = new Set(res.imported)
          const early = new Set(ctx.learned.pulledEarly ?? [])
          const pulled = [...early, ...res.pulled]
          const pulledOrCached = new Set([...pulled, ...fromCache.filter((i) => !fromArchives.has(i))])
          ctx.learned.cacheable = ctx.learned.preloaded.filter((i) => pulledOrCached.has(i) && !usesCredentials(config, i))
          const cachedSet = new Set(fromCache)
          ctx.learned.imageCounts = {
            present: res.present.filter((i) => !cachedSet.has(i) && !early.has(i)).length,
            pulled: pulled.length,
            imported: res.imported.length,
            cached: res.present.filter((i) => cachedSet.has(i)).length
          }
        }
      }
    ])
  ]
}

/** images.early: the predicted images, pulled as soon as the runtime serves, before kubeadm answers. */
function earlyStep(p: PlanContext): Step {
  const { config, learned, smokeTest, runtime } = p
  const images = (l: Learned): string[] => preloadSet(config, l, smokeTest)
  return step('images.early', "pull the images the version table predicts, while kubeadm downloads", ['runtime.ready'], [
    {
      kind: 'task',
      title: 'pull what is missing of the predicted images (4 at a time, the largest first)',
      shows: [
        `${images(learned).join(' ')}: as the preload below pulls them; it then pulls only what kubeadm names beyond these`
      ],
      run: async (ctx) => {
        const store = runtime.imageStore(ctx.host.run, config.registryMirrors)
        const res = await preloadImages(store, {
          images: images(ctx.learned),
          whereFor: (r) => pullEndpoints(config.registryMirrors, r),
          credentials: (i) => pullCredential(config, i, runtime.credentialsInRequest(ctx.learned)),
          log: ctx.log
        })
        ctx.learned.pulledEarly = res.pulled
      }
    }
  ])
}
