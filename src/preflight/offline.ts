// offline: true. Before anything changes, prove that every piece the plan needs is on this
// machine, and name every one that is not, each with the input that provides it:
// - every download (the Kubernetes binaries, crictl, the CNI plugins, the CNI manifest, the
//   action's own containerd where the plan runs it) at a local URL: file:// (its file and
//   checksum file must exist) or http(s) on a loopback address (asked with HEAD, to loopback
//   only);
// - every image the cluster will ask for inside one of image-archives, read from the
//   archives' own index without extracting a layer;
// - every package the host phase would apt-get install already installed.
// Nothing here reaches past this machine, and nothing is written.
import { access } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { enabledAddons } from '../addons/index.js'
import { CNIS } from '../cnis/index.js'
import type { Config } from '../config/inputs.js'
import { isLocalUrl, pinnedFor, type Artifact } from '../host/download.js'
import type { HostFacts } from '../host/probe.js'
import { archiveIndexNames } from '../images/archive-index.js'
import { normalizeImage } from '../images/ref.js'
import { packagesToInstall } from '../phases/host.js'
import { preloadSet } from '../phases/images.js'
import type { Plan } from '../phases/index.js'
import { artifacts } from '../phases/artifacts.js'

const LOCAL = "a file:// URL of a directory on this machine, or an http(s) URL on a loopback address (127.0.0.1, [::1], localhost)"

export interface OfflineProbe {
  /** the names an image archive brings */
  archiveNames(path: string): Promise<string[]>
  /** why a local URL serves nothing, or undefined when it does */
  missing(url: string): Promise<string | undefined>
}

async function missingAtUrl(url: string): Promise<string | undefined> {
  if (url.startsWith('file:')) {
    return access(fileURLToPath(url)).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'no such file' : err.message)
    )
  }
  try {
    const res = await fetch(url, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(5000) })
    // a redirect is not followed: it could lead off this machine
    return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ', a redirect' : ''}`
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause
    return cause?.code === 'ECONNREFUSED' ? 'nothing listens there' : ((cause?.message ?? (err as Error).message) || 'no answer')
  }
}

export const defaultOfflineProbe: OfflineProbe = { archiveNames: archiveIndexNames, missing: missingAtUrl }

interface Download {
  what: string
  url: string
  /** its published checksum, which must be local too */
  checksumUrl?: string
  input: string
}

/** Who asks for each image, for the message that names it. */
function askers(config: Config, plan: Plan, cniImages: readonly string[]): Map<string, string> {
  const who = new Map<string, string>()
  const add = (images: readonly string[], by: string): void => {
    for (const i of images) {
      const n = normalizeImage(i)
      if (!who.has(n)) who.set(n, by)
    }
  }
  add(plan.learned.kubeadmImages, 'kubeadm')
  add(cniImages, `${config.cni}'s manifest`)
  add([config.smokeTestImage], 'smoke-test-image')
  add(config.preloadImages, 'preload-images')
  for (const a of enabledAddons(config)) add(a.images(config), a.input)
  for (const r of config.imageRetags) if (!who.has(r.source)) who.set(r.source, `image-retags, for ${r.target}`)
  return who
}

/** One sentence per missing piece; empty when everything is here. */
export async function offlineProblems(config: Config, facts: HostFacts, version: string, plan: Plan, probe: OfflineProbe = defaultOfflineProbe): Promise<string[]> {
  if (!config.offline) return []
  const problems: string[] = []
  const cni = CNIS[config.cni]
  const cniNeeds = await cni.offlineNeeds(config)

  // downloads
  // a pinned digest (cri-dockerd's) is checked against the source: its checksumUrl only names where the digest came from
  const fromArtifact = (a: Artifact): Download => ({ what: a.name, url: a.url, checksumUrl: pinnedFor(a) ? undefined : a.checksumUrl, input: a.input })
  const downloads: Download[] = [...Object.values(artifacts(config, version, facts.arch)).map(fromArtifact), ...plan.runtime.downloads(config).map(fromArtifact), ...cniNeeds.downloads, ...enabledAddons(config).flatMap((a) => a.downloads?.(config) ?? [])]
  const remote = new Map<string, Download[]>()
  for (const d of downloads) {
    if (isLocalUrl(d.url)) continue
    remote.set(d.input, [...(remote.get(d.input) ?? []), d])
  }
  for (const [input, ds] of remote) {
    const value = input === 'kubernetes-release-url' ? config.kubernetesReleaseUrl : input === 'github-url' ? config.githubUrl : (config.cniManifest ?? '')
    problems.push(
      `Input '${input}' has the value ${JSON.stringify(value)}, which is not on this machine, and 'offline' is true: ${ds.map((d) => d.what).join(', ')} would be downloaded from it (${ds[0].url}); accepted with offline: ${LOCAL}.`
    )
  }
  const local = downloads.filter((d) => isLocalUrl(d.url))
  const absent = await Promise.all(
    local.flatMap((d) => [d.url, ...(d.checksumUrl ? [d.checksumUrl] : [])].map(async (url) => ({ d, url, why: await probe.missing(url) })))
  )
  for (const { d, url, why } of absent) {
    if (why === undefined) continue
    const which = url === d.url ? d.what : `the published checksum of ${d.what}`
    problems.push(`${which[0].toUpperCase()}${which.slice(1)} is not at ${url} (${why}); it comes from input '${d.input}', which must hold it with offline: true.`)
  }

  // images
  if (cniNeeds.images === undefined) {
    problems.push(
      `Input 'cni-manifest' is a URL (${config.cniManifest}), so the images its pods run cannot be checked against image-archives before anything changes, and 'offline' is true; accepted with offline: a local path to the manifest.`
    )
  }
  if (plan.learned.kubeadmImages.length === 0) {
    problems.push(
      `kubeadm's images for ${version} are not in this action's version table, so they cannot be checked against image-archives before anything changes, and 'offline' is true; accepted with offline: a kubernetes-version the table lists (its newest patches are checked).`
    )
  }
  const smokeTest = config.smokeTest && cni.carriesPods
  const wanted = preloadSet(config, { ...plan.learned, cniImages: cniNeeds.images ?? [] }, smokeTest)
  const have = new Set<string>()
  for (const path of new Set(config.imageArchives)) {
    try {
      for (const n of await probe.archiveNames(path)) have.add(n)
    } catch (err) {
      // a path that is missing or unreadable is already a problem (src/config/input-files.ts)
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code
      if (!['ENOENT', 'ENOTDIR', 'EACCES', 'EISDIR', 'ELOOP'].includes(code ?? '')) {
        // the reader's message already begins 'image-archives: PATH'
        const why = (err as Error).message.replace(`image-archives: ${path} `, '')
        problems.push(`Input 'image-archives' has the path ${JSON.stringify(path)}, which is not an image archive: it ${why}; accepted: a docker save or OCI image archive (tar, or gzipped tar).`)
      }
    }
  }
  const who = askers(config, plan, cniNeeds.images ?? [])
  for (const image of wanted) {
    if (have.has(image)) continue
    problems.push(
      `Image ${image} (asked for by ${who.get(image) ?? 'the cluster'}) is in none of the archives of input 'image-archives', and 'offline' is true, so it would not be pulled; add it to one (\`docker save\`, \`ctr images export\` or \`skopeo copy\` into a tarball), or name an image an archive brings.`
    )
  }

  // packages
  const packages = [...packagesToInstall(version, facts).map((h) => h.pkg), ...plan.runtime.packages]
  if (packages.length > 0) {
    problems.push(
      `The host phase would install ${packages.join(', ')} with apt-get, and 'offline' is true: no input provides packages; install them on the runner's image first (\`apt-get install ${packages.join(' ')}\`, or the .deb files with \`dpkg -i\`).`
    )
  }
  return problems
}
