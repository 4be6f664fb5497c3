// What every network bench needs around its measurements: the bed's check (root, its
// packages), everything started undone in reverse on the way out or on Ctrl-C, and a fresh
// containerd 2.x per measurement, from an empty root.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRun } from '../src/host/exec.js'
import { renderContainerdConfig } from '../src/runtimes/containerd/config.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { Daemon } from '../__tests__/bed/daemons.js'
import { BINS, bedUnavailable } from '../__tests__/bed/env.js'

export const run = createRun({ sudo: false, debug: () => {} })

export interface Bed {
  /** undone in reverse, after every daemon is stopped */
  undo: Array<() => Promise<unknown>>
  daemons: Set<Daemon>
  cleanup(): Promise<void>
}

/** Exits (0, saying why) when the bed is not here; otherwise the bed, cleaned up on SIGINT and SIGTERM. */
export function openBed(): Bed {
  const skip = bedUnavailable()
  if (skip) {
    console.log(`bench skipped: ${skip}`)
    process.exit(0)
  }
  const undo: Bed['undo'] = []
  const daemons = new Set<Daemon>()
  let cleaned: Promise<void> | undefined
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      for (const d of daemons) await d.stop().catch(() => {})
      for (const u of undo.reverse()) await u().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`))
    })())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: cleaning up`)
      void cleanup().finally(() => process.exit(130))
    })
  }
  return { undo, daemons, cleanup }
}

/**
 * Runs `fn` against a containerd 2.x started in `root` (removed afterwards) with the action's
 * config for a run whose registry mirrors are the hosts files in `certsDir`.
 */
export async function withContainerd<T>(bed: Bed, root: string, certsDir: string, fn: (address: string) => Promise<T>): Promise<T> {
  await mkdir(join(root, 'run'), { recursive: true })
  const config = join(root, 'config.toml')
  await writeFile(config, renderContainerdConfig({ major: 2, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir }))
  const address = join(root, 'run', 'containerd.sock')
  const daemon = new Daemon('containerd', () => [BINS.containerd2, '--config', config, '--root', join(root, 'root'), '--state', join(root, 'state'), '--address', address], join(root, 'log'))
  bed.daemons.add(daemon)
  daemon.start()
  try {
    await waitForContainerd({ run, ctr: BINS.ctr2, address, deadline: Date.now() + 20_000, logs: () => daemon.logs(20) })
    return await fn(address)
  } finally {
    await daemon.stop()
    bed.daemons.delete(daemon)
    await rm(root, { recursive: true, force: true })
  }
}
