// A value that must never reach a log, a plan or a summary. It prints as a placeholder
// wherever it is stringified, serialized or inspected by accident; the one way to the value
// is reveal(), called only where a file for a daemon is rendered for real.
import { inspect } from 'node:util'

export class Secret {
  readonly #value: string
  constructor(
    value: string,
    /** what a plan shows instead, e.g. "<registry-credentials: token for docker.io>" */
    readonly placeholder: string
  ) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return this.placeholder
  }

  toJSON(): string {
    return this.placeholder
  }

  [inspect.custom](): string {
    return this.placeholder
  }
}
