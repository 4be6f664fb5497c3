// The diagnostics archive: what the log shows after a failure, and what it cannot show in
// full, as one .tar.gz for the post step to upload as an artifact (src/io/artifact.ts) or for
// `diagnose --out DIR` to leave in DIR. Like the probes, it is chosen from what exists on the
// host: a run that failed before the kubelet was installed has no kubelet journal, one whose
// API server never answered has no cluster dump (its pods' logs are still on the node).
// Every file is redacted (src/io/redact.ts) before it is packed; a file this user may not read
// is read as root only where no user could have put a link in its way (readHostFile).
//
//   NAME/diagnostics.txt          the probes' output and the hints, as the log shows them
//   NAME/journals/UNIT.log        the whole journal of the kubelet and the runtime's units
//   NAME/cluster-info/            kubectl cluster-info dump --all-namespaces
//   NAME/pods/NS/POD/C.log        every container's log, C.previous.log for a restarted one
//   NAME/node-pod-logs/           the kubelet's own copies (/var/log/pods), there when the API server is not
//   NAME/configs/PATH             every file the ledger says the action wrote (not binaries or backups)
//   NAME/node-files/PATH          what the CNI's pods leave on the node (its hostFiles hook)
//   NAME/ledger.json              the record the post step works from
//   NAME/timings.json             per phase (the timings output's form) and per step
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import type { Journal } from '../engine/diagnostics.js'
import { readNoFollow, rootOnlyPath } from '../host/links.js'
import { onHost } from '../host/paths.js'
import { fullJournalArgv } from '../host/services.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import { redactConfig, redactValues, secretForms } from '../io/redact.js'
import { timingsJson } from '../io/summary.js'
import { CNIS } from '../cnis/index.js'
import { RUNTIMES } from '../runtimes/index.js'
import type { Diagnosis } from './diagnose.js'
import type { CommandEnv } from './env.js'

/** Where the kubelet keeps every container's log, the restarted ones' earlier logs beside them (kubelet's podLogsRootDirectory). */
const POD_LOG_DIR = '/var/log/pods'
/** A file longer than this (in characters) is cut to its end: an archive is for reading, and an upload has a cost. */
const MAX_FILE = 16 * 1024 * 1024
/** At once: kubectl logs and cat calls, each a process */
const PARALLEL = 8
/** An API server that takes connections but never answers must not hold the post step (kubectl waits forever by default) */
const REQUEST_TIMEOUT = '--request-timeout=30s'

export interface ArchiveOptions {
  /** the directory the .tar.gz is written to */
  outDir: string
  /** the archive's name: NAME.tar.gz, holding NAME/ */
  name: string
  /** every secret value the inputs hold (src/inputs/parse.ts, inputSecrets) */
  secrets: readonly string[]
}

const present = (p: string): Promise<boolean> => access(p).then(() => true, () => false)

/**
 * A host file's text: read as this user, never through a symbolic link at its name
 * (host/links.ts, readNoFollow); read as root only where root alone could have put it
 * (rootOnlyPath: /etc, /var/log/pods), never in a directory a user may change, where the file
 * could be made a link to /etc/shadow between any look and root's read and end up in an
 * upload. Undefined where it cannot be had; `skipped` is told why, for missing.txt.
 */
export async function readHostFile(run: CommandEnv['run'], path: string, skipped: (line: string) => void = () => {}): Promise<string | undefined> {
  try {
    return await readNoFollow(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    if (code !== 'EACCES' && code !== 'ELOOP') return void skipped(`${path}: ${(err as Error).message}`)
  }
  const real = await rootOnlyPath(run, path)
  if (real === undefined) {
    return void skipped(`${path}: not read: this user may not read it (or it is a symbolic link), and it lies where a user may change it, so it is not read as root either`)
  }
  const c = await run(['cat', '--', real], { privileged: true, allowFailure: true }).catch(() => undefined)
  return c?.exitCode === 0 ? c.stdout : undefined
}

async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

const tail = (text: string): string => (text.length > MAX_FILE ? `(cut to its last ${MAX_FILE} characters)\n${text.slice(-MAX_FILE)}` : text)
/** A path as a file name in the archive: no leading '/', no '..' */
const safe = (p: string): string => p.split('/').filter((x) => x !== '' && x !== '.' && x !== '..').join('/')

export function journalsOf(record: LedgerRecord): Journal[] {
  const { paths } = record
  return [{ unit: 'kubelet', requires: [join(paths.binDir, 'kubelet')] }, ...(RUNTIMES[record.runtime].journals?.(paths) ?? [])]
}

/** The files the action wrote that say how the cluster was configured: not binaries, backups, kubeconfigs or certificates. */
export function configFiles(record: LedgerRecord): string[] {
  const { paths } = record
  const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`)
  const skip = [paths.binDir, paths.cniBinDir, paths.backupDir, join(paths.kubernetesDir, 'pki')]
  return [...new Set(record.changes.flatMap((c) => (c.kind === 'file' ? [c.path] : [])))].filter(
    (p) => p !== record.kubeconfig && p !== paths.adminConf && p !== paths.ledgerFile && !skip.some((d) => under(p, d))
  )
}

/**
 * Writes NAME.tar.gz in o.outDir and returns its path. Each part that cannot be had is a line
 * in NAME/missing.txt, never an error: an archive of what there is beats none.
 */
export async function collectArchive(record: LedgerRecord, env: CommandEnv, diagnosis: Diagnosis, o: ArchiveOptions): Promise<string> {
  const { paths } = record
  const work = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'ksn-diagnostics-'))
  const top = join(work, o.name)
  const missing: string[] = []
  const skipped = (line: string): void => void missing.push(line)
  // files redacted by key first (src/io/redact.ts), their values then everywhere
  const byKey = new Set<string>()
  const put = async (rel: string, text: string): Promise<void> => {
    const f = join(top, rel)
    await mkdir(dirname(f), { recursive: true })
    await writeFile(f, text)
  }
  const kubectl = join(paths.binDir, 'kubectl')
  const kube = { KUBECONFIG: record.kubeconfig }
  const haveKubectl = (await present(kubectl)) && (await present(record.kubeconfig))
  try {
    await mkdir(top, { recursive: true })
    await put('diagnostics.txt', [...diagnosis.lines, ...(diagnosis.hints.length ? ['', '### hints', ...diagnosis.hints.map((h) => `- ${h}`)] : [])].join('\n') + '\n')

    const journals = async (): Promise<void> => {
      for (const j of journalsOf(record)) {
        if (!(await Promise.all((j.requires ?? []).map(present))).every(Boolean)) continue
        const r = await env.run(fullJournalArgv(j.unit), { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
        if (r.exitCode !== 0 && r.stdout === '') missing.push(`journals/${j.unit}.log: journalctl exited ${r.exitCode}: ${r.stderr.trim()}`)
        else await put(`journals/${safe(j.unit)}.log`, tail(r.stdout))
      }
    }

    const clusterDump = async (): Promise<void> => {
      if (!haveKubectl) return void missing.push('cluster-info/: no kubectl or kubeconfig yet')
      const dir = join(top, 'cluster-info')
      await mkdir(dir, { recursive: true })
      const r = await env.run([kubectl, 'cluster-info', 'dump', REQUEST_TIMEOUT, '--all-namespaces', '--output-directory', dir], { env: kube, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
      if (r.exitCode !== 0) missing.push(`cluster-info/: kubectl cluster-info dump exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`)
    }

    const podLogs = async (): Promise<void> => {
      if (!haveKubectl) return void missing.push('pods/: no kubectl or kubeconfig yet')
      const r = await env.run([kubectl, 'get', 'pods', '-A', '-o', 'json', REQUEST_TIMEOUT], { env: kube, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
      if (r.exitCode !== 0) return void missing.push(`pods/: kubectl get pods exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`)
      const jobs: Array<{ ns: string; pod: string; container: string; previous: boolean }> = []
      let pods: PodJson[]
      try {
        pods = (JSON.parse(r.stdout) as { items?: PodJson[] }).items ?? []
      } catch {
        return void missing.push(`pods/: kubectl get pods said no JSON: ${r.stdout.slice(0, 200)}`)
      }
      for (const p of pods) {
        const ns = p.metadata?.namespace ?? ''
        const pod = p.metadata?.name ?? ''
        const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
        const names = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name)
        for (const container of new Set([...names, ...statuses.map((s) => s.name)])) {
          jobs.push({ ns, pod, container, previous: false })
          const s = statuses.find((x) => x.name === container)
          if (s && ((s.restartCount ?? 0) > 0 || s.lastState?.terminated)) jobs.push({ ns, pod, container, previous: true })
        }
      }
      await eachLimited(jobs, async ({ ns, pod, container, previous }) => {
        const argv = [kubectl, 'logs', '--namespace', ns, pod, '--container', container, '--timestamps', ...(previous ? ['--previous'] : []), REQUEST_TIMEOUT]
        const l = await env.run(argv, { env: kube, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
        await put(`pods/${safe(ns)}/${safe(pod)}/${safe(container)}${previous ? '.previous' : ''}.log`, tail(l.exitCode === 0 ? l.stdout : `(kubectl logs exited ${l.exitCode})\n${l.stdout}${l.stderr}`))
      })
    }

    // the kubelet's files, root's: listed, then read one by one (text, never a shell)
    const nodePodLogs = async (): Promise<void> => {
      const dir = onHost(paths, POD_LOG_DIR)
      const r = await env.run(['find', dir, '-type', 'f', '-name', '*.log'], { privileged: true, allowFailure: true }).catch(() => ({ exitCode: -1, stdout: '', stderr: '' }))
      const files = r.stdout.split('\n').filter((f) => f.startsWith(`${dir}/`))
      await eachLimited(files, async (f) => {
        const text = await readHostFile(env.run, f, skipped)
        if (text !== undefined) await put(`node-pod-logs/${safe(relative(dir, f))}`, tail(text))
      })
    }

    // what the CNI's pods leave on the node (its own hook): read like the configuration files, and redacted like them
    const cniFiles = async (): Promise<void> => {
      await eachLimited(CNIS[record.cni]?.hostFiles?.(paths) ?? [], async (p) => {
        const text = await readHostFile(env.run, p, skipped)
        if (text === undefined || text.includes('\0')) return
        const rel = `node-files/${safe(p.slice(paths.root.length))}`
        byKey.add(rel)
        await put(rel, tail(text))
      })
    }

    const configFilesOf = async (): Promise<void> => {
      await eachLimited(configFiles(record), async (p) => {
        const text = await readHostFile(env.run, p, skipped)
        // gone since (a cleanup), behind a link a user could have planted, or not text
        if (text === undefined || text.includes('\0') || text.length > MAX_FILE) return
        const rel = `configs/${safe(p.slice(paths.root.length))}`
        byKey.add(rel)
        await put(rel, text)
      })
    }

    await Promise.all([journals(), clusterDump(), podLogs(), nodePodLogs(), configFilesOf(), cniFiles()])
    await put('ledger.json', `${JSON.stringify(record, null, 2)}\n`)
    const steps = record.timings ?? []
    await put('timings.json', `${JSON.stringify({ phases: timingsJson(steps, Math.max(0, ...steps.map((t) => t.end))), steps }, null, 2)}\n`)
    if (missing.length) await put('missing.txt', `${missing.join('\n')}\n`)

    // by key in the configuration files, then by value everywhere (src/io/redact.ts)
    const found: string[] = []
    for (const rel of byKey) {
      const r = redactConfig(await readFile(join(top, rel), 'utf8'))
      found.push(...r.found)
      await writeFile(join(top, rel), r.text)
    }
    const forms = secretForms(o.secrets, found)
    for (const f of await filesUnder(top)) {
      const text = await readFile(f, 'utf8')
      const clean = redactValues(text, forms)
      if (clean !== text) await writeFile(f, clean)
    }

    await mkdir(o.outDir, { recursive: true })
    const archive = join(o.outDir, `${o.name}.tar.gz`)
    await env.run(['tar', '-czf', archive, '-C', work, o.name])
    return archive
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

interface PodJson {
  metadata?: { namespace?: string; name?: string }
  spec?: { initContainers?: Array<{ name: string }>; containers?: Array<{ name: string }> }
  status?: {
    initContainerStatuses?: ContainerStatus[]
    containerStatuses?: ContainerStatus[]
  }
}
interface ContainerStatus {
  name: string
  restartCount?: number
  lastState?: { terminated?: unknown }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}
