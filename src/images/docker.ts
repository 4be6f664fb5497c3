// load-images: images in the host's Docker (built by an earlier step of the job) copied into
// the runtime's store, as `kind load docker-image` does (kind's pkg/cluster/nodeutils:
// `docker save`, then `ctr --namespace=k8s.io images import` in the node). Here `docker save`
// writes a temporary file, which the runtime's store imports: two argv commands, no pipe.
// kind imports with --all-platforms, which fails on a Docker whose containerd image store
// saves an index naming platforms it never pulled ("content digest ... not found",
// kubernetes-sigs/kind#3795); without it ctr imports the host's platform only, which is
// the one a local build or pull has.
import type { Run, RunResult } from '../host/exec.js'
import type { HostFacts } from '../host/probe.js'

export function dockerSaveArgv(out: string, images: readonly string[]): string[] {
  return ['docker', 'save', '--output', out, ...images]
}

export function dockerInspectArgv(image: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', image]
}

const tail = (r: RunResult): string => (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')

const ACCEPTED = "names of images in this host's Docker, each built or pulled by an earlier step (`docker image ls` lists them)"

/** What stops load-images before anything changes: no Docker, a daemon that does not answer, an image it does not have. */
export async function loadImageProblems(images: readonly string[], facts: Pick<HostFacts, 'docker' | 'dockerEngine' | 'dockerProblem'>, run: Run): Promise<string[]> {
  if (images.length === 0) return []
  if (!facts.docker) return [`Input 'load-images' names ${images.join(', ')}, but this host has no docker command to save them from; accepted: ${ACCEPTED}.`]
  const engine = facts.dockerEngine
  if (!engine) return [`Input 'load-images' names ${images.join(', ')}, but this host's Docker does not answer (${facts.dockerProblem ?? 'docker info printed nothing it could read'}); accepted: ${ACCEPTED}.`]
  const found = await Promise.all(images.map((i) => run(dockerInspectArgv(i), { privileged: engine.via === 'root', allowFailure: true })))
  return images.flatMap((image, n) =>
    found[n].exitCode === 0 ? [] : [`Input 'load-images' names ${image}, which this host's Docker does not have (${tail(found[n]) || `docker image inspect exited ${found[n].exitCode}`}); accepted: ${ACCEPTED}.`]
  )
}
