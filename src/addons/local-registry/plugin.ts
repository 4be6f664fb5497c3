// local-registry: a registry on the runner at localhost:PORT, for `docker push` and for pods.
//
// It runs as a container in the runner's Docker, published on 127.0.0.1 (kind's way), rather
// than as a hostNetwork pod: it starts as soon as Docker answers, beside kubeadm init rather
// than after it, and it does not depend on the cluster (a node that is not Ready, a reset) to
// serve; its image is pulled by Docker, through Docker's
// registry-mirrors (the docker.io lines of registry-mirrors, set in the runtime phase); and
// cleanup removes it with one `docker rm`. The cost: the host needs Docker, which every
// hosted runner has (and which the action installs where it installs a runtime).
//
// Pulls over plain HTTP, for this host only:
// - containerd: a certs.d/localhost:PORT/hosts.toml whose server is http://localhost:PORT,
//   written by the runtime (PluginContext.loopbackRegistries); no other host changes.
// - Docker (container-runtime: docker, and `docker push`): dockerd treats 127.0.0.0/8 and
//   ::1/128 as insecure registries by default, resolving a name such as localhost to see
//   whether it is one (moby's loadInsecureRegistries and isCIDRMatch,
//   https://github.com/moby/moby/blob/docker-v29.7.2/daemon/pkg/registry/config.go), so
//   daemon.json is left as it is.
import type { AddonPlugin } from '../types.js'
import type { StepId } from '../../engine/step.js'
import { step } from '../../engine/step.js'
import { displayArgv } from '../../host/exec.js'
import { dockerRemoveArgv } from '../../host/host.js'
import { pullEndpoints } from '../../images/mirrors.js'
import { imageInspectArgv, imagePullArgv, registryHost, registryRunArgs, registryRunArgv, REGISTRY_CONTAINER, REGISTRY_IMAGE, waitForRegistry } from './container.js'

const INPUT = 'local-registry'

export const localRegistry: AddonPlugin = {
  input: INPUT,
  enabled: (config) => config.localRegistry !== undefined,
  describe: (config) => `a registry at ${registryHost(config.localRegistry!)} (${REGISTRY_IMAGE} in Docker, container ${REGISTRY_CONTAINER})`,
  // it runs in Docker, not in a pod: nothing for the runtime's store
  images: () => [],
  loopbackRegistries: (config) => [registryHost(config.localRegistry!)],
  outputs: (config) => ({ 'local-registry': registryHost(config.localRegistry!) }),
  async reusedOutputs(config, cluster) {
    const host = registryHost(config.localRegistry!)
    const status = await cluster.status(`http://127.0.0.1:${config.localRegistry}/v2/`)
    if (status === 200) return { 'local-registry': host }
    return `the registry at ${host} does not answer (${status ? `HTTP ${status}` : 'no answer'}; \`sudo docker ps --all --filter name=${REGISTRY_CONTAINER}\`)`
  },

  problems(p, planned) {
    const { config, facts } = p
    const port = config.localRegistry!
    const out: string[] = []
    // Docker installed by the runtime phase (runtime.install) is there by the time the step runs
    if (!facts.docker && !planned.has('runtime.install')) {
      out.push(
        `Input '${INPUT}' runs the registry in the host's Docker, and \`docker\` is not on PATH here; accepted: '${INPUT}' 'false' on a host without Docker, or install Docker first (Debian and Ubuntu: apt-get install docker.io).`
      )
    }
    const host = registryHost(port)
    if (config.registryMirrors.some((m) => m.registry === host)) {
      out.push(
        `Inputs '${INPUT}' ('${port}') and 'registry-mirrors' (a line for ${host}) do not go together: the local registry is ${host} itself, and the runtime's configuration for that host is the action's; accepted: a registry-mirrors line for another host, or another port for '${INPUT}'.`
      )
    }
    return out
  },

  steps(p, planned) {
    const port = p.config.localRegistry!
    const host = registryHost(port)
    const hub = pullEndpoints(p.config.registryMirrors, 'docker.io')
    // Docker must answer (runtime.ready: installed, restarted) and pull through its mirrors
    const needs = (['runtime.ready', 'runtime.docker-mirrors'] as StepId[]).filter((id) => planned.has(id))
    const url = `http://127.0.0.1:${port}/v2/`
    if (p.config.offline) p.notes.push(`local-registry with offline: the registry image ${REGISTRY_IMAGE} must be in Docker already (\`docker load\` it first); it is not pulled.`)
    return [
      step('addons.local-registry', `local registry at ${host}: ${REGISTRY_IMAGE} in Docker`, needs, [
        {
          kind: 'task',
          title: `run ${REGISTRY_IMAGE} as container ${REGISTRY_CONTAINER}, published on 127.0.0.1:${port}`,
          shows: [
            `$ sudo ${displayArgv(imageInspectArgv(REGISTRY_IMAGE))}   (where Docker lacks it: ${p.config.offline ? 'stop, as offline pulls nothing' : `$ sudo ${displayArgv(imagePullArgv(REGISTRY_IMAGE))}, through ${hub.join(', then ')}`})`,
            `$ sudo ${displayArgv(registryRunArgv(port))}   (refused where a container ${REGISTRY_CONTAINER} is already there)`,
            `GET ${url} until it answers 200 (up to 60s)`,
            `pods and \`docker push\` use ${host}/NAME:TAG; the output local-registry is ${host}`,
            `(cleanup: $ sudo ${displayArgv(dockerRemoveArgv(REGISTRY_CONTAINER))})`
          ],
          run: async (ctx) => {
            const has = await ctx.host.run(imageInspectArgv(REGISTRY_IMAGE), { privileged: true, allowFailure: true })
            if (has.exitCode !== 0 && p.config.offline) {
              throw new Error(`offline is true and Docker lacks ${REGISTRY_IMAGE}, which local-registry runs: \`docker load\` it before the action (it is never pulled offline)`)
            }
            if (has.exitCode !== 0) {
              ctx.log(`docker pull ${REGISTRY_IMAGE} (through ${hub.join(', then ')})`)
              const pulled = await ctx.host.run(imagePullArgv(REGISTRY_IMAGE), { privileged: true, allowFailure: true })
              if (pulled.exitCode !== 0) {
                throw new Error(`docker pull ${REGISTRY_IMAGE} failed (tried ${hub.join(', then ')}): ${(pulled.stderr || pulled.stdout).trim().split('\n').slice(-2).join(' ')}`)
              }
            }
            const started = await ctx.host.runContainer(REGISTRY_CONTAINER, registryRunArgs(port))
            ctx.log(`container ${REGISTRY_CONTAINER} ${started.stdout.trim().slice(0, 12)} started`)
            await waitForRegistry(url, Date.now() + 60_000)
            ctx.log(`the registry answers at ${host}`)
          }
        }
      ])
    ]
  },

  diagnostics: () => [
    { title: `local registry container (${REGISTRY_CONTAINER})`, argv: ['docker', 'ps', '--all', '--filter', `name=^${REGISTRY_CONTAINER}$`], privileged: true },
    { title: 'local registry logs (last 40 lines)', argv: ['docker', 'logs', '--tail', '40', REGISTRY_CONTAINER], privileged: true }
  ],

  hints: [
    {
      pattern: /server gave HTTP response to HTTPS client/,
      hint: "A pull went to a plain-HTTP registry over HTTPS: with local-registry the runtime is configured for localhost:PORT alone (containerd's certs.d/localhost:PORT/hosts.toml); an image named 127.0.0.1:PORT/… or by another host name is not covered: name it localhost:PORT/…."
    },
    {
      pattern: /port is already allocated|address already in use/,
      hint: "local-registry's port is taken on 127.0.0.1 (a service container, another registry): give local-registry another port, such as 'local-registry: 5001', and use the output local-registry for image names."
    },
    {
      pattern: /localhost:\d+.*(connection refused|no such host)/,
      hint: `The local registry did not answer: see the container's state and logs above (\`sudo docker logs ${REGISTRY_CONTAINER}\`); another process may hold the port.`
    }
  ]
}
