// Where the pulls of a registry go, as registry-mirrors says: a fact about the inputs that
// every runtime's mirror configuration and the preload's error messages share.
import type { RegistryMirror } from '../config/inputs.js'
/** The upstream a registry name stands for when nothing else answers. */
export function upstreamServer(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`
}

/**
 * Where pulls of a registry go, in order: its mirrors, then the server. An endpoint on the
 * registry's own host (a plain-HTTP registry on loopback, say) is the server, not a mirror.
 */
export function registryHosts(mirror: RegistryMirror): { server: string; mirrors: string[] } {
  const own = mirror.endpoints.find((e) => new URL(e).host === mirror.registry)
  return { server: own ?? upstreamServer(mirror.registry), mirrors: mirror.endpoints.filter((e) => e !== own) }
}


/** Where pulls for a registry go, mirrors first: for error messages. */
export function pullEndpoints(mirrors: readonly RegistryMirror[], registry: string): string[] {
  const { server, mirrors: ordered } = registryHosts(mirrors.find((m) => m.registry === registry) ?? { registry, endpoints: [] })
  return [...ordered, server]
}
