// flannel: the pinned release manifest (or the one given), its net-conf Network set to the
// pod CIDR, applied after kubeadm init. What flannel itself leaves on the host (its CNI
// config, its plugin binary, its run directory, host-local's IP allocations, its interfaces)
// is recorded before kubeadm init, so cleanup removes exactly what was not there before, and
// only once kubeadm reset has stopped the pods.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../../config/inputs.js'
import { step } from '../../engine/step.js'
import { cniReleaseOf, describeRelease, isPinned, isUrl, readManifest } from '../release.js'
import type { CniPlugin } from '../types.js'
import { renderFlannelManifest } from './manifest.js'

export const FLANNEL = {
  version: 'v0.28.4',
  // The images the pinned manifest names; the run reads them from the manifest itself
  // and these only predict them for the dry run.
  images: ['ghcr.io/flannel-io/flannel:v0.28.4', 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1'],
  namespace: 'kube-flannel',
  interfaces: ['cni0', 'flannel.1']
} as const

export function flannelManifestSource(config: Config): string {
  return config.cniManifest ?? `${config.githubUrl}/flannel-io/flannel/releases/download/${cniReleaseOf(flannel, config)}/kube-flannel.yml`
}

export const flannel: CniPlugin = {
  release: { repo: 'flannel-io/flannel', pinned: FLANNEL.version },
  carriesPods: true,
  readiness: { nodeReady: true, namespaces: ['kube-system', FLANNEL.namespace] },
  describe: (config) => `flannel ${config.cniManifest ? '(given manifest)' : describeRelease(flannel, config)}, pods in ${config.podNetworkCidr}`,
  // another release's images are read from its manifest: its CNI plugin image has its own tag
  predictedImages: (config) => (isPinned(flannel, config) ? [...FLANNEL.images] : []),

  async offlineNeeds(config) {
    const source = flannelManifestSource(config)
    if (config.cniManifest === undefined) {
      // another release's images are known only from its manifest
      return { downloads: [{ what: `the flannel manifest ${describeRelease(flannel, config)}`, url: source, input: 'github-url' }], images: isPinned(flannel, config) ? [...FLANNEL.images] : undefined }
    }
    if (isUrl(source)) return { downloads: [{ what: 'the flannel manifest', url: source, input: 'cni-manifest' }], images: undefined }
    // a file that cannot be read is already a problem of its own (src/phases/input-files.ts)
    const text = await readFile(source, 'utf8').catch(() => undefined)
    if (text === undefined) return { downloads: [], images: [] }
    try {
      return { downloads: [], images: renderFlannelManifest(text, config.podNetworkCidr).images }
    } catch (err) {
      throw new Error(`Input 'cni-manifest' has the path ${JSON.stringify(source)}, which is not a flannel manifest the run could use: ${(err as Error).message}`, { cause: err })
    }
  },

  configSteps(p) {
    const { config, files, learned } = p
    const source = flannelManifestSource(config)
    return [
      step('config.cni', `flannel manifest (${config.cniManifest ? 'given' : describeRelease(flannel, config)}), net-conf Network = ${config.podNetworkCidr}`, [], [
        {
          kind: 'task',
          title: 'fetch and render the flannel manifest',
          shows: [isUrl(source) ? `GET ${source}` : `read ${source}`, `set net-conf.json Network to ${config.podNetworkCidr}; write ${files.cniManifest}`, `images: ${learned.cniImages.join(' ') || '(read from the manifest)'}`],
          run: async (ctx) => {
            const rendered = renderFlannelManifest(await readManifest(source), config.podNetworkCidr)
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
    return [step('network.cni', 'apply flannel', ['init.kubeconfig', 'config.cni'], [{ kind: 'exec', argv: apply, env: kubeEnv }])]
  },

  leftovers: (paths) => ({
    files: [join(paths.cniConfDir, '10-flannel.conflist'), join(paths.cniBinDir, 'flannel')],
    dirs: [paths.flannelRunDir, paths.cniStateDir],
    interfaces: [...FLANNEL.interfaces],
    mounts: []
  }),

  diagnostics: (_paths, kubectl, kubeconfig) => [
    { title: 'flannel logs', argv: [kubectl, 'logs', '-n', FLANNEL.namespace, '-l', 'app=flannel', '--all-containers', '--tail', '40'], env: { KUBECONFIG: kubeconfig }, requires: [kubectl, kubeconfig] }
  ],

  hints: [
    { pattern: /Failed to check br_netfilter/, hint: 'br_netfilter is not loaded: `sudo modprobe br_netfilter` (flannel crash-loops without it).' },
    { pattern: /failed to find plugin/, hint: 'No CNI plugins in /opt/cni/bin: the CNI plugins download or extraction failed.' }
  ]
}
