// SHA-256 digests of the upstream release files the action names, pinned in the source so that
// no mirror (github-url, such as the one mirror-preset china sets) can change what is
// installed: a mirror serves the file and its checksum file side by side, and could change
// both. A mirror on this machine (file://, loopback) is the user's own, and is held to the
// checksum it publishes, as the offline and test mirrors are.
//
// Source: kubernetes-sigs/kubespray, roles/kubespray_defaults/vars/main/checksums.yml, which
// records each release's published .sha256 (crictl_checksums, cni_binary_checksums,
// containerd_archive_checksums): crictl v1.33.0 to v1.36.0, the CNI plugins v1.8.0 and
// containerd 2.2.1 at commit 46dbdd3994b3 (2026-08-21); crictl v1.30.0 to v1.32.0 at commit
// 12665270143b (2025-05-19), before they were dropped. crictl v1.28.0, v1.29.0 and v1.37.0 are
// not in that file at any commit read here: they are checked against the published checksum.
// cri-dockerd, which publishes none, pins its own (src/runtimes/docker/release.ts).

/** where the digests were read, for logs and errors */
export const PIN_SOURCE = 'https://github.com/kubernetes-sigs/kubespray/blob/46dbdd3994b32640bcd806b0097f50e8fdf1d514/roles/kubespray_defaults/vars/main/checksums.yml'

type Arch = 'amd64' | 'arm64'
type Digests = Readonly<Record<string, Readonly<Record<Arch, string>>>>

const CRICTL: Digests = {
  'v1.30.0': { amd64: '3dd03954565808eaeb3a7ffc0e8cb7886a64a9aa94b2bfdfbdc6e2ed94842e49', arm64: '3769043fc6018a9e1697fcb768bb89ecd429176bd71e849058916f79a46a07a8' },
  'v1.31.0': { amd64: '9daa32308090aedee5a7f2ab1f1428fef6f669a64e993f0b5b98db8ef6edd71b', arm64: 'f9879541e92fd302db00b9d28ef617744bb8b8b62520bd4c0479819d7d4ae869' },
  'v1.32.0': { amd64: 'f050b71d3a73a91a4e0990b90143ed04dcd100cc66f953736fcb6a2730e283c4', arm64: 'f2f4e20658b72d00897f41e4b57093c8080e2d800ee894a5f4351f31d1833e30' },
  'v1.33.0': { amd64: '8307399e714626e69d1213a4cd18c8dec3d0201ecdac009b1802115df8973f0f', arm64: 'e1f34918d77d5b4be85d48f5d713ca617698a371b049ea1486000a5e86ab1ff3' },
  'v1.34.0': { amd64: 'a8ff2a3edb37a98daf3aba7c3b284fe0aa5bff24166d896ab9ef64c8913c9f51', arm64: 'c31d252e203df5f4cf37f314bd3092eb79087e791631c1e607087c74b6d0423f' },
  'v1.35.0': { amd64: '2e141e5b22cb189c40365a11807d69b76b9b3caced89fac2f4ec879408ce2177', arm64: '519071de89b64c43e2a1661bb5489c6c3fd5e9e5fcef75e50e542b0c891f1118' },
  'v1.36.0': { amd64: '83855e114566a8a8c44c548d515670f51de3a5e1da8b2effb59870e2f10c25a3', arm64: '68328594ccf780a80ae2b092d9f6ce484eec7cf540c275242e8fd954bfd95332' }
}

const CNI_PLUGINS: Digests = {
  'v1.8.0': { amd64: 'ab3bda535f9d90766cccc90d3dddb5482003dd744d7f22bcf98186bf8eea8be6', arm64: '57ce466fc3b79db1f19b8f4c63e07a1112306efa53c94fe810a2150dd9e07ddb' }
}

const CONTAINERD: Digests = {
  '2.2.1': { amd64: 'f5d8e90ecb6c1c7e33ecddf8cc268a93b9e5b54e0e850320d765511d76624f41', arm64: 'dac15a0d412a24be8bfe6a40cec8f51829062725169f1e72ac7d120a891ef5b6' }
}

const TABLES = { crictl: CRICTL, 'cni-plugins': CNI_PLUGINS, containerd: CONTAINERD } as const

/** The pinned SHA-256 of a release file, or undefined where none is pinned. */
export function pinnedDigest(what: keyof typeof TABLES, version: string, arch: string): string | undefined {
  return TABLES[what][version]?.[arch as Arch]
}
