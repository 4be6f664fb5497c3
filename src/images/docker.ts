// load-images: images in the host's Docker (built by an earlier step of the job) copied into
// the runtime's store, as `kind load docker-image` does (kind's pkg/cluster/nodeutils:
// `docker save`, then `ctr --namespace=k8s.io images import` in the node). Here `docker save`
// writes a temporary file, which the runtime's store imports: two argv commands, no pipe.
// kind imports with --all-platforms, which fails on a Docker whose containerd image store
// saves an index naming platforms it never pulled ("content digest ... not found",
// kubernetes-sigs/kind#3795); without it ctr imports the host's platform only, which is
// the one a local build or pull has.
import type { Run, RunResult } from '../host/exec.js'

/** How the docker CLI reaches the daemon: as the user (the docker group, rootless Docker), or only through sudo. */
export type DockerAccess = { via: 'user' | 'root' } | { problem: string }

export function dockerSaveArgv(out: string, images: readonly string[]): string[] {
  return ['docker', 'save', '--output', out, ...images]
}

export function dockerInspectArgv(image: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', image]
}

const VERSION_ARGV = ['docker', 'version', '--format', '{{.Server.Version}}']

const tail = (r: RunResult): string => (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')

/**
 * As the user first: images a step built with `docker build` are in the user's daemon (a
 * rootless Docker's only there). Through sudo where only root may use the socket.
 */
export async function dockerAccess(run: Run, canSudo: boolean): Promise<DockerAccess> {
  const asUser = await run(VERSION_ARGV, { allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
  if (asUser.exitCode === 0) return { via: 'user' }
  if (canSudo && /permission denied/i.test(tail(asUser))) {
    const asRoot = await run(VERSION_ARGV, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (asRoot.exitCode === 0) return { via: 'root' }
  }
  return { problem: `\`docker version\` failed: ${tail(asUser) || `exit ${asUser.exitCode}`}` }
}

const ACCEPTED = "names of images in this host's Docker, each built or pulled by an earlier step (`docker image ls` lists them)"

/** What stops load-images before anything changes: no Docker, a daemon that does not answer, an image it does not have. */
export async function loadImageProblems(images: readonly string[], docker: boolean, run: Run, canSudo: boolean): Promise<string[]> {
  if (images.length === 0) return []
  if (!docker) return [`Input 'load-images' names ${images.join(', ')}, but this host has no docker command to save them from; accepted: ${ACCEPTED}.`]
  const access = await dockerAccess(run, canSudo)
  if ('problem' in access) return [`Input 'load-images' names ${images.join(', ')}, but this host's Docker does not answer (${access.problem}); accepted: ${ACCEPTED}.`]
  const found = await Promise.all(images.map((i) => run(dockerInspectArgv(i), { privileged: access.via === 'root', allowFailure: true })))
  return images.flatMap((image, n) =>
    found[n].exitCode === 0 ? [] : [`Input 'load-images' names ${image}, which this host's Docker does not have (${tail(found[n]) || `docker image inspect exited ${found[n].exitCode}`}); accepted: ${ACCEPTED}.`]
  )
}
