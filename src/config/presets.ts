// mirror-preset: one switch for a consistent set of the inputs that say where things come
// from. Each value is the text the input itself would take, parsed and validated exactly as
// if the user had written it; an input the user sets wins over the preset's value for it
// (parseInputs applies a preset only to inputs left empty). The README's "Restricted
// networks" section lists the same values, and a test holds the two equal.
/** The inputs a preset may set (names in src/inputs/table.ts, which reads this file's presets). */
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
      // It serves only images on its allow list (allows.txt there; at commit
      // 871a1e7221478447b426438e1fe962211a0ba6e8 it holds registry.k8s.io, ghcr.io/flannel-io/*
      // (added 2026-01-09, commit 39e14c5e) and quay.io/calico/*) and is rate-limited (the
      // README's notice, issue #2328).
      'registry-mirrors': [
        'docker.io=https://docker.m.daocloud.io',
        'ghcr.io=https://ghcr.m.daocloud.io',
        'quay.io=https://quay.m.daocloud.io',
        'registry.k8s.io=https://k8s.m.daocloud.io'
      ].join('\n'),
      // DaoCloud's file mirror (github.com/DaoCloud/public-binary-files-mirror, README at
      // commit 975d2638d1173949dba4fb94fdbd0b398720c54b, the repository's only file besides
      // LICENSE since the clean-up of 2025-04-09 removed its mirror.yaml: the original URL
      // with https://files.m.daocloud.io/ put before its host; its kubespray example,
      // "使用场景2 - 安装 KubeSpray", downloads kubeadm, kubelet and kubectl from
      // {files_repo}/dl.k8s.io/release/VERSION/bin/linux/ARCH/). It fetches a file from the
      // origin on the first request (the README's 懒加载, lazy loading: the request waits
      // until the file is cached) and keeps it 30 days.
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
