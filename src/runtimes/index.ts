// The runtimes the action can configure for the kubelet. A new runtime is a folder beside
// containerd/ and one line here; `container-runtime` accepts exactly these names.
import { containerd } from './containerd/driver.js'
import { docker } from './docker/driver.js'
import type { RuntimeDriver } from './types.js'

export const RUNTIMES = { containerd, docker } satisfies Record<string, RuntimeDriver>
export type Runtime = keyof typeof RUNTIMES
export const RUNTIME_NAMES = Object.keys(RUNTIMES) as Runtime[]
export type { RuntimeDriver } from './types.js'
