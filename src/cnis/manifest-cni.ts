// What every CNI installed from one YAML manifest does alike: fetch or read the manifest,
// render it for the pod CIDR and learn its images (config phase), apply it after kubeadm init
// (network phase), and say what offline needs of it. Each plug-in gives only what differs.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { CniSourceInputs } from '../config/inputs.js'
import { step } from '../engine/step.js'
import { onThisMachine } from '../host/download.js'
import { describeRelease, isPinned, isUrl, readManifest } from './release.js'
import type { CniPlugin } from './types.js'

export interface ManifestCni {
  name: string
  /** the plug-in itself, for its release (read lazily: the plug-in is built from these parts) */
  plugin: () => CniPlugin
  /** where the manifest comes from: the release's, or cni-manifest */
  source(config: CniSourceInputs): string
  render(text: string, podCidr: string): { manifest: string; images: string[] }
  /** the images the pinned release's manifest names */
  pinnedImages: readonly string[]
  /** the pinned release's manifest SHA-256, where it can be pinned: it runs privileged pods */
  pinnedSha256?: string
  /** what rendering sets to the pod CIDR: its short name for the step's title, and in full */
  sets: { title: string; full: string }
}

export function manifestCni(m: ManifestCni): Pick<CniPlugin, 'predictedImages' | 'offlineNeeds' | 'configSteps' | 'networkSteps'> {
  return {
    // another release's images are read from its manifest at run time
    predictedImages: (config) => (isPinned(m.plugin(), config) ? [...m.pinnedImages] : []),

    async offlineNeeds(config) {
      const source = m.source(config)
      if (config.cniManifest === undefined) {
        return {
          downloads: [{ what: `the ${m.name} manifest ${describeRelease(m.plugin(), config)}`, url: source, input: 'github-url' }],
          images: isPinned(m.plugin(), config) ? [...m.pinnedImages] : undefined
        }
      }
      if (isUrl(source)) return { downloads: [{ what: `the ${m.name} manifest`, url: source, input: 'cni-manifest' }], images: undefined }
      // a file that cannot be read is already a problem of its own (src/config/input-files.ts)
      const text = await readFile(source, 'utf8').catch(() => undefined)
      if (text === undefined) return { downloads: [], images: [] }
      try {
        return { downloads: [], images: m.render(text, config.podNetworkCidr).images }
      } catch (err) {
        throw new Error(`Input 'cni-manifest' has the path ${JSON.stringify(source)}, which is not a ${m.name} manifest the run could use: ${(err as Error).message}`, { cause: err })
      }
    },

    configSteps(p) {
      const { config, files, learned } = p
      const source = m.source(config)
      // as for the binaries (host/download.ts): a mirror on this machine is the user's own
      const pin = m.pinnedSha256 && isPinned(m.plugin(), config) && isUrl(source) && !onThisMachine(source) ? m.pinnedSha256 : undefined
      return [
        step('config.cni', `${m.name} manifest (${config.cniManifest ? 'given' : describeRelease(m.plugin(), config)}), ${m.sets.title} = ${config.podNetworkCidr}`, [], [
          {
            kind: 'task',
            title: `fetch and render the ${m.name} manifest`,
            shows: [
              isUrl(source) ? `GET ${source}` : `read ${source}`,
              ...(pin ? [`verify SHA-256 ${pin} (pinned for the release's manifest)`] : []),
              `set ${m.sets.full} to ${config.podNetworkCidr}; write ${files.cniManifest}`,
              `images: ${learned.cniImages.join(' ') || '(read from the manifest)'}`
            ],
            // the manifest is read at run time; the tree says from where, and what is set in it
            writes: [{ path: files.cniManifest, render: () => `# the ${m.name} manifest, read at run time from ${source}, with ${m.sets.full} set to ${config.podNetworkCidr}\n` }],
            run: async (ctx) => {
              const text = await readManifest(source)
              if (pin) {
                const actual = createHash('sha256').update(text).digest('hex')
                if (actual !== pin) {
                  throw new Error(
                    `The ${m.name} manifest from ${source} has SHA-256 ${actual}, but the action pins ${pin} for ${describeRelease(m.plugin(), config)}. Nothing was applied. Set github-url to a mirror that serves it unchanged, or cni-manifest to a copy you checked.`
                  )
                }
                ctx.log(`verified the ${m.name} manifest against its pinned SHA-256`)
              }
              const rendered = m.render(text, config.podNetworkCidr)
              ctx.learned.cniImages = rendered.images
              await ctx.host.writeFile(files.cniManifest, rendered.manifest)
              ctx.log(`manifest images: ${rendered.images.join(', ')}`)
            }
          }
        ])
      ]
    },

    networkSteps(p) {
      const { bin, files, kubeEnv } = p
      const apply = [bin('kubectl'), 'apply', '-f', files.cniManifest]
      return [step('network.cni', `apply ${m.name}`, ['init.kubeconfig', 'config.cni'], [{ kind: 'exec', argv: apply, env: kubeEnv }])]
    }
  }
}
