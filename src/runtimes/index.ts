// The runtimes the action can configure for the kubelet. A new runtime is a folder beside
// containerd/ and one line here; `container-runtime` accepts exactly these names.
import { containerd } from './containerd/driver.js'
import { docker } from './docker/driver.js'
import type { RuntimeDriver } from './types.js'

const REGISTRY = { containerd, docker } satisfies Record<string, RuntimeDriver>
export type Runtime = keyof typeof REGISTRY
export const RUNTIME_NAMES = Object.keys(REGISTRY) as Runtime[]
/** By name: the configuration holds a name from RUNTIME_NAMES (the inputs refuse any other). */
export const RUNTIMES: Readonly<Record<string, RuntimeDriver>> = REGISTRY
export type { RuntimeDriver, RuntimeInputs, StoreRef } from './types.js'
