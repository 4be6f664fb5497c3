// The cri-dockerd the action installs. Mirantis publishes no checksum files beside its
// release archives, so the version and each archive's SHA-256 are pinned here, taken from
// kubespray's checksums file (kubernetes-sigs/kubespray at commit
// 118b2dce02d3e5730461c8ba8c91cd9dd5dc0b10, roles/kubespray_defaults/vars/main/checksums.yml,
// key cri_dockerd_archive_checksums), where kubespray records the digests it verifies the
// same archives against. A download that does not match is deleted and nothing is installed.
import type { Arch } from '../../host/probe.js'
import type { Artifact } from '../../host/download.js'

export const CRI_DOCKERD = {
  version: '0.3.21',
  sha256: {
    amd64: '6c35838bc4b1aef74f9113670e114ca729a5f295f9457b226791e18e86e91698',
    arm64: '35de6b1e8eba11d8ba6d71fa7499cb3d610a1e7b866c9d43b7f87029e3a769cd'
  } satisfies Record<Arch, string>,
  /** where the digests come from, for logs and errors */
  source: 'https://github.com/kubernetes-sigs/kubespray/blob/118b2dce02d3e5730461c8ba8c91cd9dd5dc0b10/roles/kubespray_defaults/vars/main/checksums.yml',
  /**
   * Docker 29 refuses API versions below 1.44 (docs.docker.com/engine/release-notes/29/);
   * cri-dockerd 0.3.21 asks for 1.43 ("client version 1.43 is too old", docker/for-win#14997).
   */
  newestDockerMajor: 28
} as const

/** The release archive (`cri-dockerd/cri-dockerd` inside), from github-url, checked against the pinned digest. */
export function criDockerdArtifact(githubUrl: string, arch: Arch): Artifact {
  const v = CRI_DOCKERD.version
  const url = `${githubUrl}/Mirantis/cri-dockerd/releases/download/v${v}/cri-dockerd-${v}.${arch}.tgz`
  return { name: 'cri-dockerd', url, checksumUrl: CRI_DOCKERD.source, sha256: CRI_DOCKERD.sha256[arch], input: 'github-url' }
}
