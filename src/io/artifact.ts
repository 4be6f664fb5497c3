// The diagnostics archive as a workflow artifact (@actions/artifact, the library behind
// actions/upload-artifact): its name, and the upload, which never fails the post step.
import { createHash } from 'node:crypto'
import { basename, dirname } from 'node:path'
import { DefaultArtifactClient } from '@actions/artifact'
import type { DiagnosticsArtifact } from '../config/inputs.js'

/** Whether this run's post step uploads the archive: `failed` covers a cancelled main step too. */
export function wantsArtifact(when: DiagnosticsArtifact | undefined, failed: boolean): boolean {
  const w = when ?? 'on-failure'
  return w === 'always' || (w === 'on-failure' && failed)
}

/**
 * The job run's own id, from the runtime token's `Actions.Results:RUN:JOB` scope (the claim
 * @actions/artifact reads the same way, internal/shared/util.ts getBackendIdsFromToken): each
 * matrix leg and each attempt is a job run of its own. Undefined where the token has none.
 */
function jobRunId(token: string | undefined): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from((token ?? '').split('.')[1] ?? '', 'base64url').toString('utf8')) as { scp?: string }
    return payload.scp?.split(' ').find((s) => s.startsWith('Actions.Results:'))?.split(':')[2]
  } catch {
    return undefined
  }
}

/**
 * kubeadm-single-node-diagnostics-JOB-attempt-N-HASH: the job's id (GITHUB_JOB) and the run
 * attempt say which job it is; the matrix legs of one job share both, so HASH (8 hex digits)
 * is taken from the job run's own id (or, without a runtime token, the runner's name) and the
 * step (GITHUB_ACTION: the action used twice in a job). An artifact name may not hold
 * " : < > | * ? \r \n \ / (@actions/artifact's validateArtifactName): each such, and any
 * space, becomes '-'.
 */
export function artifactName(env: NodeJS.ProcessEnv = process.env): string {
  const unique = `${jobRunId(env.ACTIONS_RUNTIME_TOKEN) ?? env.RUNNER_NAME ?? ''}/${env.GITHUB_ACTION ?? ''}`
  const hash = createHash('sha256').update(unique).digest('hex').slice(0, 8)
  const name = `kubeadm-single-node-diagnostics-${env.GITHUB_JOB || 'job'}-attempt-${env.GITHUB_RUN_ATTEMPT || '1'}-${hash}`
  return name.replace(/["':<>|*?\r\n\\/\s]/g, '-')
}

/**
 * Why this job cannot take an artifact, before anything is collected for one: no artifact
 * service in its environment (the runner sets ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL
 * for actions), or GitHub Enterprise Server, which @actions/artifact 2 and later refuse
 * (internal/shared/config.ts isGhes: a server other than github.com, *.ghe.com, *.localhost).
 */
export function artifactServiceMissing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.ACTIONS_RUNTIME_TOKEN || !env.ACTIONS_RESULTS_URL) return 'this job has no artifact service (ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL is unset)'
  let host = 'github.com'
  try {
    host = new URL(env.GITHUB_SERVER_URL || 'https://github.com').hostname.toLowerCase()
  } catch {
    // what the library reads the same way would fail the upload: said there
  }
  if (host !== 'github.com' && !host.endsWith('.ghe.com') && !host.endsWith('.localhost')) return `GitHub Enterprise Server (${host}) is not supported by @actions/artifact 2 and later; \`kubeadm-single-node diagnose --out DIR\` writes the same archive`
  return undefined
}

/** What the dry run says of the post step's artifact (the plan shows what a real run would do). */
export function describeArtifact(when: DiagnosticsArtifact, env: NodeJS.ProcessEnv = process.env): string {
  if (when === 'never') return 'diagnostics-artifact: never: the post step of a real run uploads no diagnostics archive.'
  const missing = artifactServiceMissing(env)
  return `diagnostics-artifact: ${when}: the post step of a real run uploads the diagnostics archive as the artifact ${artifactName(env)}${when === 'on-failure' ? ' if the main step fails or is cancelled' : ''}${missing ? `; not in this job, where ${missing}` : ''}.`
}

export type UploadResult = { ok: true; id?: number; size?: number } | { ok: false; error: string }

/** Uploads one file as the artifact `name` (stored, not compressed again: it is a .tar.gz). */
export async function uploadArtifact(name: string, file: string): Promise<UploadResult> {
  try {
    const r = await new DefaultArtifactClient().uploadArtifact(name, [file], dirname(file), { compressionLevel: 0 })
    return { ok: true, id: r.id, size: r.size }
  } catch (err) {
    return { ok: false, error: `${basename(file)}: ${(err as Error).message}` }
  }
}
