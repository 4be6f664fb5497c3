// One row of figures per cluster build in an e2e job, appended to the job summary, so that a
// workflow run's summary page (every job's summary, one after another) holds time-to-nginx
// and the phase times of every runner image and configuration side by side.
// Input: the action's outputs, in the environment (FIGURES_*). Plain Node, no dependencies:
// it runs on the runner before anything is installed.
import { appendFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/** The action's phases in their order (src/engine/step.ts PHASES; a test keeps them equal). */
export const PHASES = ['cache', 'host', 'binaries', 'config', 'runtime', 'images', 'init', 'network', 'addons', 'ready', 'smoke']

const cell = (v) => (v === undefined || v === '' ? '–' : String(v).replace(/\|/g, '\\|'))

/**
 * The summary's markdown for one build. `timings` is the action's `timings` output (seconds
 * per phase, and `total`, as JSON); time to nginx is that total when nginx answered (the
 * smoke test is the run's last phase), and '–' when it did not or was skipped.
 */
export function figuresMarkdown({ label, runner, outcome, version, cacheHit, nginxUrl, timings }) {
  let t = {}
  let note = ''
  if (timings) {
    try {
      t = JSON.parse(timings)
    } catch {
      note = `timings output is not JSON: ${timings}`
    }
  } else note = 'no timings output (the action stopped before its first step, or did not run)'
  const phases = [...PHASES, ...Object.keys(t).filter((k) => k !== 'total' && !PHASES.includes(k))]
  const head = ['build', 'runner', 'outcome', 'version', 'cache-hit', 'time to nginx (s)', ...phases, 'total (s)']
  const row = [label, runner, outcome, version, cacheHit, nginxUrl ? t.total : undefined, ...phases.map((p) => t[p]), t.total]
  const lines = [
    `#### e2e figures: ${label}`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    `| ${row.map(cell).join(' | ')} |`,
    ''
  ]
  if (note) lines.push(`> ${note}`, '')
  return lines.join('\n') + '\n'
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const e = process.env
  const md = figuresMarkdown({
    label: e.FIGURES_LABEL,
    runner: `${e.ImageOS ?? e.RUNNER_OS ?? '?'}${e.ImageVersion ? ` ${e.ImageVersion}` : ''} ${e.RUNNER_ARCH ?? ''}`.trim(),
    outcome: e.FIGURES_OUTCOME,
    version: e.FIGURES_VERSION,
    cacheHit: e.FIGURES_CACHE_HIT,
    nginxUrl: e.FIGURES_NGINX_URL,
    timings: e.FIGURES_TIMINGS
  })
  process.stdout.write(md)
  if (e.GITHUB_STEP_SUMMARY) appendFileSync(e.GITHUB_STEP_SUMMARY, md)
}
