// MetalLB's pinned release: where its manifest comes from, the digest it must have, and what
// the action changes in it (pure). Why MetalLB is in ./plugin.ts.
import { createHash } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import { toYaml } from '../../render/yaml.js'
import { fetchToFile, onThisMachine } from '../../host/download.js'

export const METALLB = {
  // metallb/metallb tag v0.16.1 (commit 791dfcc63ced7a6b3e869131eae75e645150fff0, 2026-05-27),
  // its newest release. MetalLB's installation guide applies the file at the tag,
  // https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml,
  // which is committed at the tag (not built at release time), so its SHA-256 is that of
  // `git show v0.16.1:config/manifests/metallb-native.yaml`, pinned here so that no mirror
  // (github-url) can change it: it runs a privileged, host-network DaemonSet.
  version: 'v0.16.1',
  manifestPath: 'config/manifests/metallb-native.yaml',
  manifestSha256: 'bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b',
  // the images the pinned manifest names (the controller Deployment, the speaker DaemonSet);
  // the run reads them from the manifest, and these predict them for the dry run and the preload
  images: ['quay.io/metallb/controller:v0.16.1', 'quay.io/metallb/speaker:v0.16.1'],
  namespace: 'metallb-system',
  controller: 'controller',
  speaker: 'speaker'
} as const

/** GitHub serves a file of a tag at OWNER/REPO/raw/TAG/PATH (as flannel's and Calico's manifests are read), and so does a mirror of its paths. */
export function metallbManifestUrl(githubUrl: string): string {
  return `${githubUrl}/metallb/metallb/raw/${METALLB.version}/${METALLB.manifestPath}`
}

/** The digest the manifest is held to: the pin, except from a mirror on this machine (the user's own, as for every download, src/host/download.ts). */
export function manifestPin(url: string): string | undefined {
  return onThisMachine(url) ? undefined : METALLB.manifestSha256
}

/** The manifest's text, refused when its SHA-256 is not `sha256` (where one is given). */
export async function fetchManifest(url: string, sha256: string | undefined): Promise<string> {
  const file = await fetchToFile(url)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } finally {
    if (!url.startsWith('file:')) await rm(file, { force: true })
  }
  if (sha256) {
    const actual = createHash('sha256').update(text).digest('hex')
    if (actual !== sha256) {
      throw new Error(
        `The MetalLB manifest from ${url} has SHA-256 ${actual}, but the action pins ${sha256} for MetalLB ${METALLB.version}. Nothing was applied. Set github-url to a mirror that serves it unchanged.`
      )
    }
  }
  return text
}

/** The control-plane taint kubeadm sets; the controller tolerates it where the node keeps it (untaint: false). */
const CONTROL_PLANE_TOLERATION = { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }

/**
 * The manifest as applied, and the images it runs. Two changes, both for a cluster of one
 * control-plane node:
 * - the speaker gets --ignore-exclude-lb: kubeadm labels its control-plane node
 *   node.kubernetes.io/exclude-from-external-load-balancers, and a speaker on a node with that
 *   label announces nothing (speaker/main.go's flag, at the tag);
 * - where the node keeps its taint, the controller tolerates it (the speaker already does).
 * Every other document is left as upstream wrote it.
 */
export function renderMetallbManifest(text: string, o: { tolerateControlPlane: boolean }): { manifest: string; images: string[] } {
  const docs = parseAllDocuments(text)
  const images = new Set<string>()
  const out: string[] = []
  let speakerSeen = false
  let controllerSeen = false
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`the MetalLB manifest is not YAML: ${doc.errors[0].message}`)
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { containers?: Array<{ name?: string; image?: string; args?: string[] }>; tolerations?: object[] } } } } | null
    if (!obj) continue
    const pod = obj.spec?.template?.spec
    for (const c of pod?.containers ?? []) if (c.image) images.add(c.image)
    if (obj.kind === 'DaemonSet' && obj.metadata?.name === METALLB.speaker && pod) {
      speakerSeen = true
      const speaker = pod.containers?.find((c) => c.name === 'speaker')
      if (!speaker) throw new Error('the MetalLB speaker DaemonSet has no container named speaker')
      if (!(speaker.args ?? []).includes('--ignore-exclude-lb')) speaker.args = [...(speaker.args ?? []), '--ignore-exclude-lb']
      out.push(toYaml(obj))
    } else if (obj.kind === 'Deployment' && obj.metadata?.name === METALLB.controller && pod) {
      controllerSeen = true
      if (o.tolerateControlPlane) pod.tolerations = [...(pod.tolerations ?? []), CONTROL_PLANE_TOLERATION]
      out.push(toYaml(obj))
    } else {
      // as written, without the document marker the join puts back
      out.push(doc.toString().replace(/^---[ \t]*\n/, ''))
    }
  }
  if (!speakerSeen || !controllerSeen) throw new Error(`the MetalLB manifest has no ${!speakerSeen ? 'speaker DaemonSet' : 'controller Deployment'}`)
  return { manifest: out.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n'), images: [...images] }
}
