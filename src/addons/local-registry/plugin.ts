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
import type { Config } from '../../config/inputs.js'
import type { AddonPlugin } from '../types.js'
import type { StepId } from '../../engine/step.js'
import { step } from '../../engine/step.js'
import { displayArgv } from '../../host/exec.js'
import { dockerRemoveArgv } from '../../host/host.js'
import { pullEndpoints } from '../../images/mirrors.js'
import { imageInspectArgv, imagePullArgv, registryHost, registryRunArgs, registryRunArgv, REGISTRY_CONTAINER, REGISTRY_IMAGE, waitForRegistry } from './container.js'

const INPUT = 'local-registry'

/** Docker's answer for an image it lacks: "Error response from daemon: No such image: NAME" (moby's errdefs.NotFound), or "Error: No such image" from older clients. */
const NO_SUCH_IMAGE = /no such image/i

/**
 * Ports the cluster's own components listen on, on every address (so 127.0.0.1 too), from
 * kubeadm's and the components' defaults: a registry published there would take it first, or
 * fail to start. kubeadm's list: https://kubernetes.io/docs/reference/networking/ports-and-protocols/
 * (6443, 2379-2380, 10250, 10256, 10257, 10259), plus etcd's metrics 2381 and the kubelet's
 * healthz 10248 and kube-proxy's metrics 10249 (kubeadm's generated manifests and configs);
 * on the host network, MetalLB's speaker (9120 metrics, 7946 memberlist, 17472 health, in the
 * pinned metallb-native.yaml) and calico-node (Felix's health 9099, and BIRD's BGP 179: the
 * pinned calico.yaml's calico_backend is "bird").
 */
const CLUSTER_PORTS: ReadonlyArray<{ ports: number[]; what: string; when?: (config: Config) => boolean }> = [
  { ports: [6443], what: 'the API server' },
  { ports: [2379, 2380, 2381], what: 'etcd' },
  { ports: [10248, 10250], what: 'the kubelet' },
  { ports: [10249, 10256], what: 'kube-proxy' },
  { ports: [10257], what: 'the controller manager' },
  { ports: [10259], what: 'the scheduler' },
  { ports: [9120, 7946, 17472], what: "MetalLB's speaker (load-balancer)", when: (c) => c.loadBalancer },
  { ports: [9099, 179], what: 'calico-node (cni calico)', when: (c) => c.cni === 'calico' }
]

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
    } else if (facts.docker && !facts.dockerEngine && !planned.has('runtime.install')) {
      out.push(
        `Input '${INPUT}' runs the registry in the host's Docker, which does not answer here (${facts.dockerProblem ?? 'docker info printed nothing it could read'}); accepted: '${INPUT}' 'false', or start Docker first (sudo systemctl start docker).`
      )
    }
    const taken = CLUSTER_PORTS.find((c) => c.ports.includes(port) && (!c.when || c.when(config)))
    if (taken) {
      out.push(
        `Input '${INPUT}' has the value '${port}', a port ${taken.what} listens on: the registry's 127.0.0.1:${port} and it would fight for it during kubeadm init; accepted: another port, such as '5000' or '5001'.`
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

  async hostProblems(config, facts, run) {
    // offline pulls nothing: the image must be in Docker already, asked now rather than mid-run
    const engine = facts.dockerEngine
    if (!config.offline || !engine) return []
    const has = await run(imageInspectArgv(REGISTRY_IMAGE), { privileged: engine.via === 'root', allowFailure: true })
    if (has.exitCode === 0) return []
    return [
      `Inputs '${INPUT}' and 'offline' ('true') need ${REGISTRY_IMAGE} in the host's Docker, which lacks it (${(has.stderr || has.stdout).trim().split('\n').pop() || `docker image inspect exited ${has.exitCode}`}); accepted: \`docker load\` it before the action, or '${INPUT}' 'false'.`
    ]
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
            // anything but "no such image" (Docker down, a refused socket) is the answer, not a reason to pull
            if (has.exitCode !== 0 && !NO_SUCH_IMAGE.test(has.stderr)) {
              throw new Error(`docker image inspect ${REGISTRY_IMAGE} failed: ${(has.stderr || has.stdout).trim().split('\n').slice(-2).join(' ')}`)
            }
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
