// Waiting on the cluster: every wait polls against one deadline and, when it passes, says
// what it was waiting for and what it last saw. No fixed sleeps: polls start fast and back off.

export class DeadlineError extends Error {
  constructor(what: string, seen: string) {
    super(`Timed out waiting for ${what}.\n${seen}`)
    this.name = 'DeadlineError'
  }
}

/**
 * Calls `check` until it returns a value (not undefined) or the deadline passes. `check`
 * reports what it saw through `observe`, which the timeout error repeats.
 */
export async function waitUntil<T>(
  what: string,
  deadline: number,
  check: (observe: (seen: string) => void) => Promise<T | undefined>,
  opts: { firstDelayMs?: number; maxDelayMs?: number; explain?: () => Promise<string> } = {}
): Promise<T> {
  let delay = opts.firstDelayMs ?? 250
  let seen = 'nothing yet'
  const observe = (s: string): void => {
    seen = s
  }
  for (;;) {
    try {
      const value = await check(observe)
      if (value !== undefined) return value
    } catch (err) {
      seen = errorText(err)
    }
    const left = deadline - Date.now()
    if (left <= 0) {
      const extra = opts.explain ? await opts.explain().catch(() => '') : ''
      throw new DeadlineError(what, `Last seen: ${seen}${extra ? `\n${extra}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, left)))
    delay = Math.min(delay * 2, opts.maxDelayMs ?? 3000)
  }
}

/** An error's message with its cause's: Node's fetch says only "fetch failed", and why (ECONNREFUSED) in the cause. */
function errorText(err: unknown): string {
  const e = err as Error & { cause?: Error }
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message
}

/** The status of a GET of `url`; where nothing answers, an error naming the URL and why. */
export async function httpStatus(url: string, timeoutMs = 3000): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).status
  } catch (err) {
    throw new Error(`GET ${url}: ${errorText(err).replace(/^fetch failed: /, '')}`)
  }
}
