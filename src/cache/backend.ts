// Where cache entries live between runs: GitHub's cache service in a workflow (@actions/cache),
// or a directory on a machine that keeps its disk (the command line). Both move one directory
// whole; what is in it is entry.ts's business.
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as cache from '@actions/cache'

export interface CacheBackend {
  /** one line for logs: where entries live */
  describe: string
  /** where a run's entry is restored to and saved from: the same path every run */
  workDir: string
  /** why entries cannot be kept here, or undefined when they can */
  unavailable(): string | undefined
  /** fills `dir` from the exact key or the newest entry under a restore key; the key it used, or undefined */
  restore(dir: string, key: string, restoreKeys: string[]): Promise<string | undefined>
  /** keeps `dir` under `key` */
  save(dir: string, key: string): Promise<void>
}

/**
 * GitHub's cache service. The entry is unpacked in the runner's temporary directory: the same
 * path in every job of a runner (the service's entries are bound to their paths), and emptied
 * by the runner after each job, so that nothing of it outlives the job.
 */
export function actionsCache(): CacheBackend {
  return {
    describe: "GitHub's cache service",
    workDir: join(process.env.RUNNER_TEMP || tmpdir(), 'kubeadm-single-node-cache'),
    unavailable: () => (cache.isFeatureAvailable() ? undefined : "GitHub's cache service is not available to this job (no ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL)"),
    restore: (dir, key, restoreKeys) => cache.restoreCache([dir], key, restoreKeys),
    async save(dir, key) {
      await cache.saveCache([dir], key)
    }
  }
}

const exists = (p: string): Promise<boolean> => stat(p).then(
  () => true,
  () => false
)

/** Entries as directories named by key under `root`, the newest used for a restore key; a run works in `workDir`. */
export function directoryCache(root: string, workDir: string): CacheBackend {
  return {
    describe: `the directory ${root}`,
    workDir,
    unavailable: () => undefined,
    async restore(dir, key, restoreKeys) {
      let found: string | undefined = (await exists(join(root, key))) ? key : undefined
      for (const prefix of restoreKeys) {
        if (found) break
        const names = (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && !n.endsWith('.partial'))
        const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(root, n))).mtimeMs })))
        found = dated.sort((a, b) => b.t - a.t)[0]?.n
      }
      if (!found) return undefined
      await cp(join(root, found), dir, { recursive: true, preserveTimestamps: true })
      return found
    },
    async save(dir, key) {
      await mkdir(root, { recursive: true, mode: 0o700 })
      const partial = join(root, `${key}.partial`)
      await rm(partial, { recursive: true, force: true })
      await cp(dir, partial, { recursive: true, preserveTimestamps: true })
      // renamed into place: a reader sees the whole entry or none
      await rm(join(root, key), { recursive: true, force: true })
      await rename(partial, join(root, key))
    }
  }
}
