// The pod networks the action can install. A new CNI is a folder (or file) beside flannel/
// and one line here; the `cni` input accepts exactly these names.
import { bridge } from './bridge/plugin.js'
import { calico } from './calico/plugin.js'
import { flannel } from './flannel/plugin.js'
import { none } from './none.js'
import type { CniPlugin } from './types.js'

export const CNIS = { flannel, calico, bridge, none } satisfies Record<string, CniPlugin>
export type Cni = keyof typeof CNIS
export const CNI_NAMES = Object.keys(CNIS) as Cni[]
export type { CniPlugin } from './types.js'
