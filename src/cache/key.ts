// The cache entry's name: what a restored entry must agree on to be worth anything. Pure.
import { createHash } from 'node:crypto'
import { enabledAddons } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import { cniReleaseOf } from '../cnis/release.js'
import type { Config } from '../config/inputs.js'

/** Bumped when the entry's layout changes, so that no run reads an entry it cannot use. */
export const ENTRY_FORMAT = 1

export interface CacheKey {
  /** the exact entry: same version, architecture, runtime and image set */
  key: string
  /**
   * Tried in order when the exact entry is missing: the same version, architecture and runtime
   * with another image set still has every binary, and most images.
   */
  restoreKeys: string[]
  /** what the hash in the key covers, for the dry run */
  covers: string[]
}

/**
 * Everything that decides which files the run downloads and which images it pulls, under the
 * names it pulls them by. The mirror inputs are in it: a mirror that names images differently
 * fills the store with other names. Credentials are not: they change who may pull, not what.
 */
function imageSet(config: Config): Record<string, unknown> {
  return {
    imageRepository: config.imageRepository,
    // one entry per registry, whatever the order of registry-mirrors' lines; the order of a
    // registry's endpoints is kept, as it says which is tried first
    registryMirrors: [...config.registryMirrors].sort((a, b) => (a.registry < b.registry ? -1 : a.registry > b.registry ? 1 : 0)),
    preloadImages: config.preloadImages,
    imageRetags: config.imageRetags,
    cni: config.cni,
    cniManifest: config.cniManifest ?? '',
    // the release whose manifest names the CNI's images (cni-version, 'latest' resolved by now)
    cniVersion: config.cniManifest === undefined && CNIS[config.cni].release ? cniReleaseOf(CNIS[config.cni], config) : '',
    smokeTestImage: config.smokeTest ? config.smokeTestImage : '',
    // what the add-ons the inputs turn on run (load-balancer's MetalLB images)
    addonImages: enabledAddons(config).flatMap((a) => a.images(config)),
    kubernetesReleaseUrl: config.kubernetesReleaseUrl,
    githubUrl: config.githubUrl,
    // ClusterConfiguration may name other etcd and coredns images
    kubeadmConfig: config.kubeadmConfig?.patches ?? config.kubeadmConfig?.path ?? ''
  }
}

export function cacheKey(config: Config, version: string, arch: string): CacheKey {
  const set = imageSet(config)
  const hash = createHash('sha256').update(JSON.stringify(set)).digest('hex').slice(0, 16)
  const prefix = `kubeadm-single-node-${ENTRY_FORMAT}-linux-${arch}-${version}-${config.containerRuntime}-`
  return { key: `${prefix}${hash}`, restoreKeys: [prefix], covers: Object.keys(set) }
}
