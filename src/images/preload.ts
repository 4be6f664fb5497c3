// Puts every image the cluster will ask for into the runtime before kubeadm init: what is
// already there is kept, archives are imported, the rest is pulled concurrently. Pull
// failures are sorted into the ones worth retrying (5xx, resets) and the ones that need
// the user (rate limits, missing images), whose errors say what to do.
import type { RegistryCredential } from '../config/inputs.js'
import { CommandError } from '../host/exec.js'
import { parseImageRef } from './ref.js'
import type { ImageStore } from './store.js'

export interface PreloadOptions {
  /** images under the names the cluster will ask for */
  images: readonly string[]
  /** tarballs to import first */
  archives?: readonly string[]
  /** where pulls of a registry go, for error messages (mirrors first, then the registry) */
  whereFor?: (registry: string) => string[]
  /**
   * false (offline: true): nothing is pulled; an image neither present nor imported stops
   * the preload, naming the archives' input, before any pull could try the network
   */
  pull?: boolean
  /** the registry-credentials line an image's pull uses, if any (the store then pulls with it) */
  credentials?: (image: string) => RegistryCredential | undefined
  /** concurrent pulls */
  concurrency?: number
  /** attempts per image for retryable failures */
  attempts?: number
  /** waits between attempts grow from this (ms) */
  backoffMs?: number
  log?: (line: string) => void
}

export interface PreloadResult {
  present: string[]
  imported: string[]
  pulled: string[]
}

export type PullFailure = 'rate-limit' | 'unauthorized' | 'not-found' | 'retryable' | 'other'

export function classifyPullError(text: string): PullFailure {
  if (/\b429\b|toomanyrequests|too many requests|rate limit/i.test(text)) return 'rate-limit'
  // before not-found: Docker Hub answers a private repository with "does not exist or may require authorization"
  if (/\b401\b|unauthorized|failed to authorize|authorization failed|may require authorization|insufficient_scope/i.test(text)) return 'unauthorized'
  if (/\b404\b|not found|manifest unknown|name unknown|no such image/i.test(text)) return 'not-found'
  if (/\b50[0-4]\b|internal server error|bad gateway|service unavailable|gateway time|connection reset|timeout|EOF|connection refused/i.test(text)) {
    return 'retryable'
  }
  return 'other'
}

export class PullError extends Error {
  constructor(
    readonly image: string,
    readonly failure: PullFailure,
    message: string,
    cause: unknown
  ) {
    super(message, { cause })
    this.name = 'PullError'
  }
}

function explain(image: string, failure: PullFailure, where: string[], detail: string, attempts: number): string {
  const at = where.length ? ` (looked at ${where.join(', ')})` : ''
  switch (failure) {
    case 'rate-limit':
      return `Pulling ${image} was refused with HTTP 429 (rate limit)${at}. Docker Hub limits anonymous pulls: set registry-mirrors (for example 'docker.io=https://mirror.gcr.io'), log in with registry-credentials ('docker.io=USERNAME:TOKEN', a Docker Hub access token), or point smoke-test-image / preload-images at another registry.`
    case 'unauthorized':
      return `Pulling ${image} was refused for want of credentials${at}: ${detail}. Set registry-credentials for the host that refused it ('HOST=USERNAME:TOKEN'): with containerd 1.x a line goes only to the host it names, so a mirror needs a line of its own; with containerd 2.x the line naming the image's registry goes with its pull.`
    case 'not-found':
      return `Image ${image} was not found${at}. If image-repository or registry-mirrors names a mirror, it lacks this image or names it differently; kubeadm asks for exactly this name.`
    case 'retryable':
      return `Pulling ${image} failed ${attempts} times with a server or network error${at}: ${detail}`
    default:
      return `Pulling ${image} failed${at}: ${detail}`
  }
}

/**
 * The largest compressed layer of the images a cluster pulls, in MiB (amd64, as their
 * registries' manifests list them late in 2026; bench/image-set.ts has the whole layer lists).
 * One layer is one connection, so the image with the largest layer sets the preload's floor:
 * started first, it overlaps everything else (longest-processing-time-first scheduling).
 */
const LARGEST_LAYER_MIB: Record<string, number> = {
  etcd: 58,
  'kube-apiserver': 30,
  'kube-controller-manager': 25,
  coredns: 19,
  'kube-proxy': 18,
  'kube-scheduler': 18,
  nginx: 18,
  flannel: 16,
  'flannel-cni-plugin': 3.5,
  pause: 0.3
}
/** An image the table does not know: pulled after the known large ones, before the small ones. */
const UNKNOWN_MIB = 15

/** The pull order: the image with the largest layer first; ties keep the given order. */
export function pullOrder(images: readonly string[]): string[] {
  const weight = (i: string): number => LARGEST_LAYER_MIB[parseImageRef(i).path.split('/').pop() ?? ''] ?? UNKNOWN_MIB
  return images
    .map((image, at) => ({ image, at, w: weight(image) }))
    .sort((a, b) => b.w - a.w || a.at - b.at)
    .map((x) => x.image)
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await fn(item)
      } catch (err) {
        errors.push(err)
        queue.length = 0 // stop handing out work; running pulls finish
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0]
}

export async function preloadImages(store: ImageStore, o: PreloadOptions): Promise<PreloadResult> {
  const log = o.log ?? (() => {})
  const attempts = o.attempts ?? 3
  const backoff = o.backoffMs ?? 1000
  const imported: string[] = []
  for (const archive of o.archives ?? []) {
    const names = await store.importArchive(archive).catch((err: unknown) => {
      throw new Error(`Could not import image archive ${archive}: ${(err as Error).message}`, { cause: err })
    })
    log(`imported ${archive}: ${names.join(', ') || '(no names)'}`)
    imported.push(...names)
  }
  const have = await store.list()
  const present = o.images.filter((i) => have.has(i))
  const missing = o.images.filter((i) => !have.has(i))
  if (present.length) log(`already present: ${present.join(', ')}`)
  if (o.pull === false && missing.length > 0) {
    throw new Error(
      `offline is true, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} neither in the runtime nor brought by any archive of input 'image-archives'; nothing was pulled. Add ${missing.length === 1 ? 'it' : 'them'} to an archive.`
    )
  }
  const pulled: string[] = []
  await pool(pullOrder(missing), o.concurrency ?? 4, async (image) => {
    const started = performance.now()
    for (let attempt = 1; ; attempt++) {
      try {
        await store.pull(image, o.credentials?.(image))
        pulled.push(image)
        log(`pulled ${image} in ${((performance.now() - started) / 1000).toFixed(1)}s`)
        return
      } catch (err) {
        const detail = err instanceof CommandError ? (err.result.stderr || err.result.stdout).trim().split('\n').slice(-3).join(' ') : String(err)
        const failure = classifyPullError(detail)
        if (failure === 'retryable' && attempt < attempts) {
          log(`pull of ${image} failed (${detail}); attempt ${attempt + 1} of ${attempts}`)
          await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)))
          continue
        }
        const where = o.whereFor?.(parseImageRef(image).registry) ?? []
        throw new PullError(image, failure, explain(image, failure, where, detail, attempt), err)
      }
    }
  })
  return { present, imported, pulled }
}
