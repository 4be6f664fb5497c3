// The image store the kubelet sees through cri-dockerd: Docker's own. Docker's
// registry-mirrors only ever mirror Docker Hub (the runtime phase gives them to daemon.json),
// so a mirror of any other registry is pulled from by name here: the image is pulled as
// MIRROR-HOST/PATH and tagged with the name the cluster asks for, upstream last.
import { CommandError, type Run, type RunResult } from '../../host/exec.js'
import { dockerArgv, dockerStore, type DockerStoreOptions, type ImageStore } from '../../images/store.js'
import { parseImageRef } from '../../images/ref.js'
import type { RegistryMirror } from '../../config/inputs.js'

export interface DockerRuntimeStoreOptions extends DockerStoreOptions {
  /** registry-mirrors; docker.io's are left to dockerd */
  mirrors: readonly RegistryMirror[]
}

/**
 * The names to pull `ref` by, in order: its registry's mirrors (an endpoint on the registry's
 * own host is the registry itself), then the reference itself.
 */
export function pullSources(ref: string, mirrors: readonly RegistryMirror[]): string[] {
  const r = parseImageRef(ref)
  const endpoints = r.registry === 'docker.io' ? [] : (mirrors.find((m) => m.registry === r.registry)?.endpoints ?? [])
  // a digest cannot be given as a tag: such a reference is only ever pulled by its own name
  const suffix = r.digest ? undefined : `:${r.tag ?? 'latest'}`
  const viaMirrors = suffix === undefined ? [] : endpoints.map((e) => new URL(e).host).filter((h) => h !== r.registry).map((h) => `${h}/${r.path}${suffix}`)
  return [...new Set([...viaMirrors, ref])]
}

export function dockerRuntimeStore(run: Run, o: DockerRuntimeStoreOptions): ImageStore {
  const base = dockerStore(run, o)
  const env = o.dockerHost ? { DOCKER_HOST: o.dockerHost } : undefined
  return {
    ...base,
    async pull(ref) {
      const sources = pullSources(ref, o.mirrors)
      const failures: string[] = []
      let last: RunResult | undefined
      for (const source of sources) {
        const res = await run(dockerArgv.pull(source), { privileged: true, env, allowFailure: true })
        if (res.exitCode === 0) {
          if (source !== ref) await run(dockerArgv.tag(source, ref), { privileged: true, env })
          return
        }
        last = res
        failures.push(`${source}: ${(res.stderr || res.stdout).trim().split('\n').slice(-1)[0]}`)
      }
      // one error naming every source tried, worded as docker put it for the preload to classify
      throw new CommandError(dockerArgv.pull(ref), { exitCode: last!.exitCode, stdout: '', stderr: failures.join('\n') })
    }
  }
}
