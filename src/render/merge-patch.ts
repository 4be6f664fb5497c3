// How kubeadm-config's documents are laid over the action's own: a JSON merge patch
// (RFC 7386), the semantics kind gives its kubeadmConfigPatches (kubernetes-sigs/kind,
// pkg/internal/patch/mergepatch.go applies them with evanphx/json-patch's MergePatch):
// maps merge key by key, a list or a scalar replaces what was there whole, and null removes
// the key. Lists are never merged element by element: no rule fits every kubeadm list
// (taints, extraArgs, certSANs), and replacing keeps what the file says the whole truth.

export const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `patch` laid over `target`; neither is changed, and nothing of `patch` is shared with the result. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return structuredClone(patch)
  const out: Record<string, unknown> = isMap(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** The value at `path`, or undefined where any step of it is missing or not a map. */
export function valueAt(doc: unknown, path: readonly string[]): unknown {
  let at: unknown = doc
  for (const key of path) {
    if (!isMap(at) || !(key in at)) return undefined
    at = at[key]
  }
  return at
}

/**
 * Whether laying `patch` over a document can change the value at `path`: the patch names the
 * path itself, or replaces (or removes) a map on the way to it.
 */
export function touches(patch: unknown, path: readonly string[]): boolean {
  let at: unknown = patch
  for (const key of path) {
    if (!isMap(at) || !(key in at)) return false
    at = at[key]
    if (!isMap(at)) return true
  }
  return true
}

/** Structural equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
  }
  if (isMap(a) || isMap(b)) {
    if (!isMap(a) || !isMap(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameJson(a[k], b[k]))
  }
  return a === b
}
