// cache: the entry an earlier successful run saved, restored while the host phase runs. The
// downloads and the preload wait for it; the post step saves a new entry after a success.
import { step, type Step } from '../engine/step.js'
import { entryLayout } from '../cache/entry.js'
import type { PlanContext } from './context.js'

export function cacheSteps(p: PlanContext): Step[] {
  const { cache } = p
  if (!cache) return []
  return [
    step('cache.restore', 'restore the downloads and images of an earlier run', [], [
      {
        kind: 'task',
        title: `restore from ${cache.backend.describe}`,
        shows: [
          `restore ${cache.key.key} (or the newest entry under ${cache.key.restoreKeys.join(', ')}) into ${cache.dir}`,
          `check ${entryLayout(cache.dir).manifest}: every file listed, at its size (a damaged entry is ignored with a warning)`,
          'each download is used only if it matches the checksum published now; images are imported by the preload, which checks every digest',
          `after a successful run, the images are exported and the entry saved under ${cache.key.key} (by the post step; by up on the command line), unless that exact entry was restored`
        ],
        run: (ctx) => cache.restore(ctx.log)
      }
    ])
  ]
}
