// Which credentials a pull uses, by the host it contacts. A registry-credentials line names
// one host; credentials go to that host only, never to a mirror of it (a Docker Hub token is
// not for mirror.gcr.io): a mirror that wants credentials gets a line naming its own host.
import type { RegistryCredential } from '../config/inputs.js'
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
