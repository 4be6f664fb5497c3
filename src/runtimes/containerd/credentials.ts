// registry-credentials with containerd, by its major:
// - 1.x: the CRI's registry.configs."HOST".auth in config.toml (./config.ts), per host;
// - 2.x: with each pull request. containerd removes registry.configs in v2.4 (pkg/deprecation's
//   CRIRegistryConfigs) and hosts.toml has no credential field, so the kubelet gets them from
//   an image credential provider (src/render/credential-provider.ts says why a provider and not
//   pull secrets) and the preload passes them to crictl (./store.ts).
import { join } from 'node:path'
import type { ClusterInputs, ImagesInputs } from '../../config/inputs.js'
import type { Op } from '../../engine/step.js'
import type { Paths } from '../../host/paths.js'
import {
  CREDENTIAL_PROVIDER_NAME,
  renderCredentialProviderConfig,
  renderCredentialProviderResponse,
  renderCredentialProviderScript,
  type CredentialProviderFiles
} from '../../render/credential-provider.js'

/** Whether credentials go with the pull request rather than in config.toml (an unknown major is written for as 2.x, as the config is). */
export const credentialsInRequest = (containerdMajor: number | undefined): boolean => (containerdMajor ?? 2) >= 2

/** Whether the kubelet gets the credential provider: containerd 2.x (or newer) with registry-credentials. */
export function usesCredentialProvider(config: Pick<ClusterInputs, 'containerRuntime'> & Pick<ImagesInputs, 'registryCredentials'>, containerdMajor: number | undefined): boolean {
  return config.containerRuntime === 'containerd' && config.registryCredentials.length > 0 && credentialsInRequest(containerdMajor)
}

/** Beside the action's other state (cleanup removes what it wrote); the provider alone in its bin directory. */
export function credentialProviderFiles(paths: Paths): CredentialProviderFiles {
  const dir = join(paths.stateDir, 'credential-provider')
  const binDir = join(dir, 'bin')
  return { config: join(dir, 'config.yaml'), binDir, executable: join(binDir, CREDENTIAL_PROVIDER_NAME), response: join(dir, 'response.json') }
}

/**
 * The kubelet's flags for it (kubernetes cmd/kubelet/app/options/container_runtime.go): flags
 * only, no KubeletConfiguration field exists for them.
 */
export function credentialProviderFlags(files: CredentialProviderFiles): Array<{ name: string; value: string }> {
  return [
    { name: 'image-credential-provider-config', value: files.config },
    { name: 'image-credential-provider-bin-dir', value: files.binDir }
  ]
}

/** The provider's three files, each recorded for cleanup as it is written; the logins in the root-only response alone. */
export function credentialProviderOps(config: Pick<ImagesInputs, 'registryCredentials'>, paths: Paths): Op[] {
  const files = credentialProviderFiles(paths)
  const credentials = config.registryCredentials
  return [
    { kind: 'write', path: files.response, mode: 0o600, render: () => renderCredentialProviderResponse(credentials, false), reveal: () => renderCredentialProviderResponse(credentials, true) },
    { kind: 'write', path: files.executable, mode: 0o755, render: () => renderCredentialProviderScript(files.response) },
    { kind: 'write', path: files.config, render: () => renderCredentialProviderConfig(credentials.map((c) => c.registry)) }
  ]
}
