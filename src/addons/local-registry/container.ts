// The local registry's container: its image, its name, and the commands that start it and
// wait for it. Pure apart from waitForRegistry, so the plan and the dry run show exactly what
// the run does.
import { dockerRunArgv } from '../../host/host.js'

/**
 * The distribution project's registry, as Docker's official image ships it: 3.1.2 is what
 * docker-library/official-images lists for `registry` (Tags: 3.1.2, 3.1, 3, latest; built from
 * github.com/distribution/distribution-library-image), https://github.com/docker-library/official-images/blob/003e0d73548f8d6a8ae97a6e4c7e2eb8d9fef297/library/registry
 * Pinned by tag, so that a run a year from now starts the same registry; its default
 * configuration (/etc/distribution/config.yml in the image) listens on :5000 and keeps images
 * under /var/lib/registry, a volume the image declares.
 */
export const REGISTRY_IMAGE = 'docker.io/library/registry:3.1.2'

/** The container's name: the action's own prefix, so the ledger accepts it (host/changes/container.ts). */
export const REGISTRY_CONTAINER = 'kubeadm-single-node-registry'

/** Where the registry listens inside its container (the image's default configuration). */
const CONTAINER_PORT = 5000

/** How images name it, and the host the runtime is told to reach over plain HTTP. */
export const registryHost = (port: number): string => `localhost:${port}`

/**
 * The arguments after `docker run --detach --name NAME`: published on 127.0.0.1 only, so
 * that a registry with no TLS and no login is reachable from the runner itself and from
 * nothing on its network (a self-hosted runner's neighbours); restarted with dockerd, as
 * kind's registry is (kind.sigs.k8s.io/docs/user/local-registry). Registry 3 exports
 * OpenTelemetry traces by default, to a collector on localhost:4318 that is not there, and
 * logs an error for each attempt (distribution/distribution#4270): OTEL_TRACES_EXPORTER=none
 * turns that off, as its configuration docs say (about/configuration, "Disable traces
 * export"), so that its log, which the post step shows after a failure, holds what matters.
 */
export function registryRunArgs(port: number): string[] {
  return ['--restart', 'always', '--publish', `127.0.0.1:${port}:${CONTAINER_PORT}`, '--env', 'OTEL_TRACES_EXPORTER=none', REGISTRY_IMAGE]
}

export const registryRunArgv = (port: number): string[] => dockerRunArgv(REGISTRY_CONTAINER, registryRunArgs(port))

export const imageInspectArgv = (image: string): string[] => ['docker', 'image', 'inspect', '--format', '{{.Id}}', image]
export const imagePullArgv = (image: string): string[] => ['docker', 'pull', image]

/** Polls the registry's API root (GET /v2/, 200 from an open registry) until it answers, or the deadline. */
export async function waitForRegistry(url: string, deadline: number, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  let last = ''
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
      if (res.status === 200) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message
    }
    if (Date.now() >= deadline) throw new Error(`the registry at ${url} did not answer 200 in time (last: ${last})`)
    await sleep(500)
  }
}
