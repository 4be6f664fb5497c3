// The add-ons, by the input that turns each on. A new add-on is one folder and one line here.
import type { Config } from '../config/inputs.js'
import { loadBalancer } from './load-balancer/plugin.js'
import type { AddonPlugin } from './types.js'
import { localRegistry } from './local-registry/plugin.js'

export type { AddonPlugin } from './types.js'

export const ADDONS: readonly AddonPlugin[] = [localRegistry, loadBalancer]

/** The add-ons this configuration turns on, in the registry's order. */
export const enabledAddons = (config: Config): AddonPlugin[] => ADDONS.filter((a) => a.enabled(config))

/** An add-on by its input's name (the ledger keeps names). */
export const addonNamed = (input: string): AddonPlugin | undefined => ADDONS.find((a) => a.input === input)
