// What a runtime, a CNI or the core contribute to the post step after a failure: commands
// whose output explains failures, the units whose whole journals the diagnostics archive
// keeps, and plain hints for the failures they recognise.

export interface Probe {
  title: string
  argv: string[]
  privileged?: boolean
  env?: Record<string, string>
  /** paths that must exist for the probe to mean anything (its binary, a kubeconfig) */
  requires?: string[]
}

/** A unit whose whole journal goes into the diagnostics archive (the log shows its last lines only). */
export interface Journal {
  unit: string
  /** paths that must exist for the unit to be the one the run used (its unit file) */
  requires?: string[]
}

export interface Hint {
  pattern: RegExp
  hint: string
}

export function hintsFor(hints: readonly Hint[], text: string): string[] {
  return hints.filter((h) => h.pattern.test(text)).map((h) => h.hint)
}
