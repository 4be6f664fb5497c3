// The cri-dockerd the action installs. Mirantis publishes no checksum files beside its
// release archives, so the version and each archive's SHA-256 are pinned here, taken from
// kubespray's checksums file (kubernetes-sigs/kubespray at commit
// 8d69fb8f9a75a5fd2e184339175eb0bf0835cd12, "Patch versions updates (#13393)", which added
// 0.3.26; roles/kubespray_defaults/vars/main/checksums.yml, key
// cri_dockerd_archive_checksums), where kubespray records the digests it verifies the same
// archives against. A download that does not match is deleted and nothing is installed.
import type { Arch } from '../../host/probe.js'
import type { Artifact } from '../../host/download.js'

export const CRI_DOCKERD = {
  version: '0.3.26',
  sha256: {
    amd64: '87f31c964d974cdce9c883c79b69e355c3c323e51d3a7d36cda140e6df7b8d5a',
    arm64: 'd33e46e0d7ce28b22fdf7fa6327961cf0220ec3814fd7cc482f8cb77e7fd986a'
  } satisfies Record<Arch, string>,
  /** where the digests come from, for logs and errors */
  source: 'https://github.com/kubernetes-sigs/kubespray/blob/8d69fb8f9a75a5fd2e184339175eb0bf0835cd12/roles/kubespray_defaults/vars/main/checksums.yml',
  /**
   * The Docker API version cri-dockerd asks for, at most: every 0.3.x from 0.3.16 on is built
   * with Docker's Go client v25 (go.mod: github.com/docker/docker v25.0.6 at v0.3.16, v25.0.8
   * from v0.3.17 to v0.3.25; the v0.3.26 tag was not in the snapshot read, a later go.mod of
   * the 0.3 line, commit 004641691795577e9f23a4f49c991e06e3e86a3e, names v25.0.14), whose api.DefaultVersion is
   * 1.44 (moby/moby v25.0.8, api/common.go), and it negotiates down to an older daemon's
   * (libdocker/kube_docker_client.go: NegotiateAPIVersion). Docker 29.0 refuses clients below
   * 1.44 (moby/moby docker-v29.0.0, daemon/config/config.go: defaultMinAPIVersion = "1.44";
   * docs.docker.com/engine/release-notes/29/), and 29.3 lowered that to 1.40
   * (docker-v29.3.0, the same constant): 1.44 is accepted by every Docker 29, so no Docker
   * version is refused.
   */
  dockerApiVersion: '1.44'
} as const

/**
 * The release archive (`cri-dockerd/cri-dockerd` inside), from github-url, checked against the
 * pinned digest; a mirror on this machine (an offline one) is held to the .sha256 it keeps
 * beside the archive, as for every pinned download (host/download.ts).
 */
export function criDockerdArtifact(githubUrl: string, arch: Arch): Artifact {
  const v = CRI_DOCKERD.version
  const url = `${githubUrl}/Mirantis/cri-dockerd/releases/download/v${v}/cri-dockerd-${v}.${arch}.tgz`
  return { name: 'cri-dockerd', url, checksumUrl: `${url}.sha256`, pinned: CRI_DOCKERD.sha256[arch], pinSource: CRI_DOCKERD.source, input: 'github-url' }
}
