// The pod networks the action can install. A new CNI is a folder (or file) beside flannel/
// and one line here; the `cni` input accepts exactly these names.
import { bridge } from './bridge/plugin.js'
import { calico } from './calico/plugin.js'
import { flannel } from './flannel/plugin.js'
import { none } from './none.js'
import type { CniPlugin } from './types.js'

const REGISTRY = { flannel, calico, bridge, none } satisfies Record<string, CniPlugin>
export type Cni = keyof typeof REGISTRY
export const CNI_NAMES = Object.keys(REGISTRY) as Cni[]
/** By name: the configuration holds a name from CNI_NAMES (the inputs refuse any other). */
export const CNIS: Readonly<Record<string, CniPlugin>> = REGISTRY
export type { CniPlugin } from './types.js'
