// runtime: the chosen runtime's driver owns this phase (install where missing, configure,
// restart, wait until it serves CRI). Docker's own registry mirrors and the runner user's
// registry credentials, for the workflow's own docker pulls, are set whatever the runtime.
import { dirname, join } from 'node:path'
import { step, type Op, type Step } from '../engine/step.js'
import { displayArgv, type Run } from '../host/exec.js'
import { installArgv } from '../host/host.js'
import { readNoFollow, rootOnlyPath } from '../host/links.js'
import { systemctlArgv } from '../host/services.js'
import { mergeDockerConfig } from '../images/credentials.js'
import { renderDaemonJson } from '../render/docker.js'
import type { PlanContext } from './context.js'

export function runtimeSteps(p: PlanContext): Step[] {
  const { config, facts, paths } = p
  const steps = p.runtime.steps(p)
  const dockerHubMirrors = config.registryMirrors.find((m) => m.registry === 'docker.io')?.endpoints ?? []
  const installed = steps.some((s) => s.id === 'runtime.install')
  // a driver that writes daemon.json itself (docker, for its cgroup driver) gives it the mirrors too
  const driverWrites = steps.some((s) => s.ops.some((o) => o.kind === 'write' && o.path === paths.dockerDaemonJson))
  // a host with containerd and no Docker (a kubeadm VM) has no dockerd to give mirrors to
  if (dockerHubMirrors.length > 0 && (facts.docker || installed) && !driverWrites) {
    steps.push(
      // registry-mirrors is a setting dockerd reloads on SIGHUP: a reload keeps the job's
      // service containers running, where a restart would stop them
      step('runtime.docker-mirrors', "Docker's registry-mirrors (for the workflow's own docker pulls)", installed ? ['runtime.install'] : [], [
        { kind: 'write', path: paths.dockerDaemonJson, render: () => renderDaemonJson(facts.daemonJson, { dockerHubMirrors }) },
        ...(facts.daemonJson && 'registry-mirrors' in facts.daemonJson ? [] : [clearMirrorsOnUndo(paths.dockerDaemonJson, facts.daemonJson)]),
        { kind: 'service', action: 'reload', unit: 'docker' }
      ])
    )
  }
  if (config.registryCredentials.length > 0 && (facts.docker || installed)) steps.push(dockerCredentialsStep(p, installed))
  // a runtime whose pulls go through dockerd (Docker as the runtime) waits for its mirrors
  const ready = steps.find((s) => s.id === 'runtime.ready')
  if (p.runtime.pullsThroughDockerd && ready && steps.some((s) => s.id === 'runtime.docker-mirrors')) ready.needs = [...ready.needs, 'runtime.docker-mirrors']
  return steps
}

/** Where the runner user's Docker client reads its credentials: $DOCKER_CONFIG, else ~/.docker (docker/cli's config.Dir). */
export function dockerConfigPath(facts: PlanContext['facts']): string {
  return join(facts.dockerConfigDir ?? join(facts.user.home, '.docker'), 'config.json')
}

/**
 * registry-credentials for the workflow's own `docker pull`s: added to the `auths` of the
 * runner user's ~/.docker/config.json, as `docker login` would, keeping the rest of the file.
 * The file is the user's (0600) in a directory of the user's (0700), so that a later
 * `docker login` can still write there; cleanup puts the original back (or removes both).
 */
function dockerCredentialsStep(p: PlanContext, installed: boolean): Step {
  const { config, facts } = p
  const path = dockerConfigPath(facts)
  const owner = { uid: facts.user.uid, gid: facts.user.gid }
  const preview = mergeDockerConfig(undefined, config.registryCredentials, false).text
  return step('runtime.docker-credentials', `registry-credentials for Docker's client (the runner user's ${path})`, installed ? ['runtime.install'] : [], [
    {
      kind: 'task',
      title: `add ${config.registryCredentials.map((c) => c.registry).join(', ')} to the auths of ${path}`,
      shows: [
        `(the file's other keys and auths are kept; ${dirname(path)} is made 0700 for ${facts.user.name} where missing)`,
        `$ sudo ${displayArgv(installArgv('<merged>', path, { mode: 0o600, owner }))}`,
        ...preview.trimEnd().split('\n').map((l) => `  | ${l}`),
        `(cleanup puts the original ${path} back, or removes it)`
      ],
      // the tree shows the auths the run adds, placeholders for the tokens; the run merges them into the user's file
      writes: [{ path, mode: 0o600, render: () => preview }],
      run: async (ctx) => {
        const existing = await readDockerConfig(ctx.host.run, path)
        const { text, shadowed } = mergeDockerConfig(existing, config.registryCredentials, true)
        if (shadowed.length) ctx.log(`warning: ${path} names a credential helper for ${shadowed.join(', ')}: Docker asks the helper, not these auths`)
        await ctx.host.ensureDir(dirname(path), { mode: 0o700, owner })
        await ctx.host.writeFile(path, text, { mode: 0o600, owner })
      }
    }
  ])
}

/**
 * The user's own config.json, if any; one that is not a JSON object is refused rather than
 * overwritten. Read as this user and never through a link at its name (host/links.ts,
 * readNoFollow): the file lies in a directory of the user's, where a look followed by a root
 * read can be raced (config.json made a link to /etc/shadow in between would be read, merged
 * and written back readable). Root reads it only where root alone could have put it there
 * (rootOnlyPath: $DOCKER_CONFIG in a directory of root's); anywhere else, a file this user may
 * not read is an error that says what to do, as merging into it would lose what it holds.
 */
export async function readDockerConfig(run: Run, path: string, read: (path: string) => Promise<string> = readNoFollow): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await read(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code !== 'EACCES' && code !== 'ELOOP') throw err
    const real = await rootOnlyPath(run, path)
    if (real === undefined) {
      const what = code === 'EACCES' ? `is not readable by this user (uid ${process.geteuid?.() ?? '?'})` : 'is a symbolic link (or lies behind one)'
      throw new Error(
        `${path} ${what}, and it lies in a directory a user may change, so it is not read as root: registry-credentials cannot be added to it without losing what it holds. ` +
          (code === 'EACCES' ? `Give it to the runner user (sudo chown "$USER" ${path}) or remove it, and run again.` : `Put the file itself there (or remove the link), and run again.`),
        { cause: err }
      )
    }
    text = (await run(['cat', '--', real], { privileged: true })).stdout
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`${path} is not a JSON object, so registry-credentials cannot be added to it without losing what it holds; fix or remove it`)
  }
  return doc as Record<string, unknown>
}

/**
 * dockerd's reload applies registry-mirrors only when the file sets the key (moby's
 * reloadRegistryConfig checks IsValueSet), so putting back a daemon.json without it would
 * leave the action's mirrors in the running daemon. Cleanup therefore first reloads with the
 * host's settings and an explicit empty list, then puts the original bytes back.
 */
function clearMirrorsOnUndo(path: string, original: Record<string, unknown> | undefined): Op {
  const cleared = renderDaemonJson({ ...(original ?? {}), 'registry-mirrors': [] }, { dockerHubMirrors: [] })
  return {
    kind: 'task',
    title: "keep a daemon.json that clears the mirrors, for cleanup's reload",
    shows: [`(cleanup: $ sudo ${displayArgv(installArgv('<the host\'s daemon.json with "registry-mirrors": []>', path))}; $ sudo ${displayArgv(systemctlArgv('reload', 'docker'))}; then the original back)`],
    run: async (ctx) => {
      await ctx.host.reloadOnUndo('docker', path, 'daemon.json.cleared', cleared)
    }
  }
}
