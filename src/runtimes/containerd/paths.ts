// Where the action's own containerd lives, when the host's cannot serve the chosen Kubernetes:
// binaries under `prefix`/bin, config.toml and certs.d under `configDir`, and a root and state
// of its own, so that it runs beside the host's containerd and Docker without touching them.
// Host paths: onHost() puts them where the paths put the host (a test's root, the plan's tree).
import { dirname } from 'node:path'
import { onHost, type Paths } from '../../host/paths.js'

const PRIVATE_HOST = {
  prefix: '/usr/local/lib/kubeadm-single-node/containerd',
  configDir: '/etc/kubeadm-single-node/containerd',
  root: '/var/lib/kubeadm-single-node/containerd',
  state: '/run/kubeadm-single-node/containerd'
} as const

export type PrivatePaths = { [K in keyof typeof PRIVATE_HOST]: string }

export function privatePaths(paths: Paths): PrivatePaths {
  return Object.fromEntries(Object.entries(PRIVATE_HOST).map(([k, v]) => [k, onHost(paths, v)])) as PrivatePaths
}

/** What it may write under, for the ledger's check (host/paths.ts, writeRoots); root and configDir lie in roots every run has. */
export function privateRoots(paths: Paths): string[] {
  const p = privatePaths(paths)
  return [dirname(p.prefix), dirname(p.state)]
}
