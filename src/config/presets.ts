// mirror-preset: one switch for a consistent set of the inputs that say where things come
// from. Each value is the text the input itself would take, parsed and validated exactly as
// if the user had written it; an input the user sets wins over the preset's value for it
// (parseInputs applies a preset only to inputs left empty). The README's "Restricted
// networks" section lists the same values, and a test holds the two equal.
/** The inputs a preset may set (names in src/config/input-table.ts, which reads this file's presets). */
export type PresetInput = 'image-repository' | 'registry-mirrors' | 'kubernetes-release-url' | 'github-url'

export interface MirrorPreset {
  /** for the accepted-values text: where the preset works */
  where: string
  inputs: Partial<Record<PresetInput, string>>
}

export const MIRROR_PRESETS = {
  china: {
    where: 'mainland China',
    inputs: {
      // Alibaba Cloud's copy of the control-plane images, the repository the original recipe
      // and most kubeadm guides for China use. Flat, as kubeadm reads any repository other
      // than registry.k8s.io: it asks for R/coredns and R/pause (src/images/kubeadm.ts).
      'image-repository': 'registry.aliyuncs.com/google_containers',
      // DaoCloud's public image mirror (github.com/DaoCloud/public-image-mirror, README, the
      // table of registries that take a host replacement, "支持前缀替换的 Registry":
      // docker.io -> docker.m.daocloud.io, ghcr.io -> ghcr.m.daocloud.io, quay.io ->
      // quay.m.daocloud.io, registry.k8s.io -> k8s.m.daocloud.io; the same four as
      // kubespray's docs/operations/mirror.md). The path under the host is the original's,
      // so each is a registry root, as containerd's hosts.toml and Docker's registry-mirrors
      // take one, and no image name changes. (DaoCloud prefers the m.daocloud.io/REGISTRY/
      // prefix form, which would need a path in the endpoint: registry-mirrors refuses one.)
      // It serves only images on its allow list (allows.txt there) and is rate-limited (the
      // README's notice, issue #2328).
      'registry-mirrors': [
        'docker.io=https://docker.m.daocloud.io',
        'ghcr.io=https://ghcr.m.daocloud.io',
        'quay.io=https://quay.m.daocloud.io',
        'registry.k8s.io=https://k8s.m.daocloud.io'
      ].join('\n'),
      // DaoCloud's file mirror (github.com/DaoCloud/public-binary-files-mirror, README: the
      // original URL with https://files.m.daocloud.io/ put before its host; its kubespray
      // example downloads kubeadm, kubelet and kubectl from
      // {files_repo}/dl.k8s.io/release/VERSION/bin/linux/ARCH/, and its mirror.yaml lists
      // dl.k8s.io among the hosts it serves). A CDN that fetches from the origin on the first
      // request for a file and serves its cache after.
      'kubernetes-release-url': 'https://files.m.daocloud.io/dl.k8s.io/release',
      // The same file mirror's GitHub form (same README: crictl, the CNI plugins and
      // containerd from {files_repo}/github.com/OWNER/REPO/releases/download/...), which is
      // the layout github-url takes.
      'github-url': 'https://files.m.daocloud.io/github.com'
    }
  }
} as const satisfies Record<string, MirrorPreset>

export type MirrorPresetName = keyof typeof MIRROR_PRESETS

export const MIRROR_PRESET_NAMES = Object.keys(MIRROR_PRESETS) as MirrorPresetName[]

/** The preset's value for an input, or undefined where it sets none. */
export function presetValue(name: MirrorPresetName | undefined, input: string): string | undefined {
  if (name === undefined) return undefined
  return (MIRROR_PRESETS[name].inputs as Partial<Record<string, string>>)[input]
}
