// Which credentials a pull uses, by the host it contacts. A registry-credentials line names
// one host; credentials go to that host only, never to a mirror of it (a Docker Hub token is
// not for mirror.gcr.io): a mirror that wants credentials gets a line naming its own host.
import type { Config, RegistryCredential, RegistryMirror } from '../config/inputs.js'
import { pullEndpoints } from './mirrors.js'
import { parseImageRef } from './ref.js'
import { Secret } from '../config/secret.js'

/**
 * The host a registry's own pulls reach, which containerd asks credentials for (its CRI
 * looks up registry.configs by the host it contacts: internal/cri/server/images/image_pull.go,
 * `Registry.Configs[host]`). Docker Hub's registry is registry-1.docker.io: containerd's
 * core/remotes/docker/config/hosts.go makes it docker.io's default host, and docs/hosts.md,
 * "Simple (default) Host Config for Docker", names it as docker.io's host. (A "Configure Docker
 * Hub Credentials" example keyed there was proposed in containerd PR #8614, never merged.)
 */
export function credentialHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry
}

/** The key of Docker's config.json `auths`: Docker Hub's is its index URL (docker/cli's registry.IndexServer). */
export function dockerConfigKey(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry
}

/** The credentials (if any) that a pull through these endpoints (mirrors first, then the registry) may use. */
export function credentialsFor(endpoints: readonly string[], credentials: readonly RegistryCredential[]): RegistryCredential[] {
  const hosts = new Set(endpoints.map((e) => new URL(e).host))
  return credentials.filter((c) => hosts.has(credentialHost(c.registry)))
}

export interface HostAuth {
  host: string
  username: string
  password: Secret
}

/**
 * The line a pull of this registry's images carries on containerd 2.x, where credentials go
 * with the CRI PullImage request (the kubelet's from its credential provider, the preload's
 * from crictl): the one naming the registry itself. Such a request names no host (the
 * kubelet's keyring sets no ServerAddress), so containerd offers it to every host of that
 * pull that asks for a login (containerd internal/cri/server/images/image_pull.go, ParseAuth).
 */
export function requestCredential(registry: string, credentials: readonly RegistryCredential[]): RegistryCredential | undefined {
  return credentials.find((c) => c.registry === registry)
}

/**
 * What changes where credentials go with the request (containerd 2.x), for the plan's notes:
 * a login is chosen by the image's name, not by the host a pull reaches. So a line naming a
 * mirror's host no longer goes to that mirror, and a registry's line may reach its mirrors.
 */
export function requestCredentialNotes(credentials: readonly RegistryCredential[], mirrors: readonly RegistryMirror[]): string[] {
  const notes: string[] = []
  const mirrorHosts = (m: RegistryMirror): string[] => m.endpoints.map((e) => new URL(e).host).filter((h) => h !== m.registry)
  for (const c of credentials) {
    const of = mirrors.filter((m) => mirrorHosts(m).includes(c.registry)).map((m) => m.registry)
    if (of.length > 0) {
      notes.push(
        `registry-credentials line for ${c.registry}: with containerd 2.x it goes with pulls of images named ${c.registry}/..., not to ${c.registry} as a mirror of ${of.join(', ')}: ` +
          `containerd 2.x keeps no login per host (registry.configs is removed in v2.4, hosts.toml holds none), so pulls through that mirror carry ${of.map((r) => (requestCredential(r, credentials) ? `${r}'s line` : 'no login')).join(', ')}.`
      )
    }
  }
  for (const m of mirrors) {
    const hosts = mirrorHosts(m)
    if (hosts.length > 0 && requestCredential(m.registry, credentials)) {
      notes.push(
        `registry-credentials for ${m.registry}: with containerd 2.x the kubelet and the preload send them with each pull of ${m.registry}'s images, and containerd offers them to any host of that pull that asks for a login, its registry-mirrors ${hosts.join(', ')} included.`
      )
    }
  }
  return notes
}

/** containerd's CRI registry auth entries, one per credential, by the host it contacts. */
export function criAuths(credentials: readonly RegistryCredential[]): HostAuth[] {
  return credentials.map((c) => ({ host: credentialHost(c.registry), username: c.username, password: c.password }))
}

/** What a file shows of a secret: the value when it is written for real, else its placeholder. */
export const shown = (s: Secret, reveal: boolean): string => (reveal ? s.reveal() : s.placeholder)

/**
 * Docker's client config with the credentials added to `auths` (base64 USERNAME:TOKEN, as
 * `docker login` writes it); every other key of the user's own file is kept. A credsStore or
 * credHelpers entry would make Docker ask a helper instead of reading `auths`: returned in
 * `shadowed` for a warning.
 */
export function mergeDockerConfig(existing: Record<string, unknown> | undefined, credentials: readonly RegistryCredential[], reveal: boolean): { text: string; shadowed: string[] } {
  const doc: Record<string, unknown> = { ...(existing ?? {}) }
  const auths = { ...((doc.auths as Record<string, unknown> | undefined) ?? {}) }
  const helpers = (doc.credHelpers as Record<string, unknown> | undefined) ?? {}
  const shadowed: string[] = []
  for (const c of credentials) {
    const key = dockerConfigKey(c.registry)
    auths[key] = { auth: shown(c.basic, reveal) }
    const host = c.registry === 'docker.io' ? 'index.docker.io' : c.registry
    if (typeof helpers[host] === 'string' || typeof helpers[key] === 'string') shadowed.push(`${c.registry} (credHelpers)`)
    else if (typeof doc.credsStore === 'string' && doc.credsStore !== '') shadowed.push(`${c.registry} (credsStore ${doc.credsStore})`)
  }
  doc.auths = auths
  return { text: `${JSON.stringify(doc, null, 2)}\n`, shadowed }
}

/** Whether registry-credentials apply to pulling this image (through its mirrors or from its registry). */
export function usesCredentials(config: Pick<Config, 'registryMirrors' | 'registryCredentials'>, image: string): boolean {
  return credentialsFor(pullEndpoints(config.registryMirrors, parseImageRef(image).registry), config.registryCredentials).length > 0
}

/**
 * The line an image's pull uses: where the runtime takes credentials with each request
 * (containerd 2.x), the one naming its registry (requestCredential); otherwise any that
 * applies, as a sign to pull through the CRI, which takes each host's from its config.
 */
export function pullCredential(config: Pick<Config, 'registryMirrors' | 'registryCredentials'>, image: string, inRequest: boolean): RegistryCredential | undefined {
  const registry = parseImageRef(image).registry
  if (inRequest) return requestCredential(registry, config.registryCredentials)
  return credentialsFor(pullEndpoints(config.registryMirrors, registry), config.registryCredentials)[0]
}
