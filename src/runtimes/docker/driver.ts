// Docker as the kubelet's runtime, through cri-dockerd: images a workflow built with
// `docker build` run in pods without a registry. Docker must already be on the host (hosted
// runners have it); the action adds cri-dockerd (a pinned release, verified against the
// digest kubespray records), its socket and service units, Docker's systemd cgroup driver
// where Docker runs another, and waits until cri-dockerd answers CRI.
import { join } from 'node:path'
import { FROM_KUBEADM, type Learned } from '../../engine/learned.js'
import { step, type Op, type Step } from '../../engine/step.js'
import { cachedTarball, verifyLine } from '../../host/download.js'
import { displayArgv } from '../../host/exec.js'
import { installArgv } from '../../host/host.js'
import { onHost, type Paths } from '../../host/paths.js'
import { dockerInfoArgv, type HostFacts } from '../../host/probe.js'
import { journalArgv } from '../../host/services.js'
import { pauseImage } from '../../images/kubeadm.js'
import { dockerArgv } from '../../images/store.js'
import type { PluginContext } from '../../engine/plugin-context.js'
import { renderDaemonJson } from '../../render/docker.js'
import type { RuntimeDriver, RuntimeSetup } from '../types.js'
import { dockerInputProblems } from './inputs.js'
import { CRI_DOCKERD, criDockerdArtifact } from './release.js'
import { crictlVersionArgv, waitForCriDockerd } from './ready.js'
import { dockerRuntimeStore, pullSources } from './store.js'
import { CRI_DOCKERD_PATHS, criDockerdServiceUnit, criDockerdSocketUnit, SERVICE_UNIT, SOCKET_UNIT } from './units.js'

/** Why Docker's cgroup driver must change, or undefined when it already is the kubelet's. */
function cgroupChange(facts: HostFacts): string | undefined {
  const engine = facts.dockerEngine
  if (!engine) return "`docker info` did not answer while the action looked at the host, so Docker's cgroup driver is unknown"
  if (engine.cgroupDriver === 'systemd') return undefined
  return `Docker ${engine.version} uses the ${engine.cgroupDriver} cgroup driver`
}

function problems(facts: HostFacts, changeCgroups: boolean, paths: Paths): string[] {
  const out: string[] = []
  if (!facts.docker) {
    out.push("container-runtime: docker needs Docker on the host, and `docker` is not on PATH here. Install Docker first (Debian and Ubuntu: apt-get install docker.io), or use container-runtime: containerd, which needs no Docker.")
  }
  // no Docker version is refused: cri-dockerd asks for API 1.44 at most, which every Docker up
  // to 29 accepts, and negotiates down to an older one (CRI_DOCKERD.dockerApiVersion says why)
  if (changeCgroups && facts.daemonJsonExists && facts.daemonJson === undefined) {
    out.push(`container-runtime: docker must set Docker's cgroup driver to systemd in ${paths.dockerDaemonJson}, which is not valid JSON. Fix the file, or use container-runtime: containerd.`)
  }
  return out
}

/** cri-dockerd's binary, from the release archive, and its socket unit: no need to wait for kubeadm. */
function criDockerdStep(p: PluginContext): Step {
  const { config, facts, paths, bin } = p
  const art = criDockerdArtifact(config.githubUrl, facts.arch)
  const exec = { mode: 0o755 }
  return step('runtime.cri-dockerd', `cri-dockerd ${CRI_DOCKERD.version}: Docker's CRI`, p.cache ? ['cache.restore'] : [], [
    {
      kind: 'task',
      title: 'download and verify cri-dockerd',
      shows: [
        `GET ${art.url} (unless the tool cache${p.cache ? ' or the cache entry' : ''} has it)`,
        verifyLine(art),
        `extract; $ sudo ${displayArgv(installArgv('<extracted>/cri-dockerd/cri-dockerd', bin('cri-dockerd'), exec))}`
      ],
      run: async (ctx) => {
        const dir = await cachedTarball(art, { tool: 'cri-dockerd', version: CRI_DOCKERD.version, arch: facts.arch }, ctx.log, p.cache)
        await ctx.host.installFile(join(dir, 'cri-dockerd', 'cri-dockerd'), bin('cri-dockerd'), exec)
      }
    },
    { kind: 'write', path: join(paths.systemdDir, SOCKET_UNIT), render: () => criDockerdSocketUnit(onHost(paths, CRI_DOCKERD_PATHS.socket)) }
  ])
}

/**
 * Docker's daemon.json with the systemd cgroup driver (and Docker Hub's mirrors, which the
 * runtime phase would otherwise write), applied by a restart: the cgroup driver is not a
 * setting dockerd reloads. Cleanup puts the file back and restarts Docker again.
 */
function cgroupOps(p: PluginContext, why: string): Op[] {
  const { config, facts, paths } = p
  const dockerHubMirrors = config.registryMirrors.find((m) => m.registry === 'docker.io')?.endpoints ?? []
  return [
    {
      kind: 'task',
      title: `${why}; the kubelet uses systemd`,
      shows: [`$ ${displayArgv(dockerInfoArgv)}   (asked while the plan was made: ${facts.dockerEngine ? `${facts.dockerEngine.version} ${facts.dockerEngine.cgroupDriver}` : 'no answer'})`],
      run: async (ctx) => ctx.log(why)
    },
    { kind: 'write', path: paths.dockerDaemonJson, render: () => renderDaemonJson(facts.daemonJson, { dockerHubMirrors, cgroupDriver: 'systemd' }) },
    { kind: 'service', action: 'restart', unit: 'docker' }
  ]
}

/** The service unit names the pause image kubeadm says it uses: written once kubeadm has said it. */
function serviceUnitOp(p: PluginContext): Op {
  const { config, paths, bin } = p
  return {
    kind: 'write',
    path: join(paths.systemdDir, SERVICE_UNIT),
    render: (lr: Learned) =>
      criDockerdServiceUnit({
        binary: bin('cri-dockerd'),
        pauseImage: pauseImage(lr.kubeadmImages) ?? `${config.imageRepository}/pause:${FROM_KUBEADM}`,
        cniBinDir: paths.cniBinDir,
        cniConfDir: paths.cniConfDir
      })
  }
}

function configureStep(p: PluginContext, why: string | undefined): Step {
  const { paths } = p
  const ops: Op[] = [
    ...(why ? cgroupOps(p, why) : []),
    serviceUnitOp(p),
    {
      kind: 'task',
      title: `cri-dockerd will create ${onHost(paths, CRI_DOCKERD_PATHS.root)}, and its CNI setup ${paths.cniConfDir}`,
      shows: [`(cleanup removes ${onHost(paths, CRI_DOCKERD_PATHS.root)} and ${paths.cniConfDir} where they did not exist)`],
      run: async (ctx) => {
        await ctx.host.willCreate(onHost(paths, CRI_DOCKERD_PATHS.root), 'dir')
        await ctx.host.willCreate(paths.cniConfDir, 'dir')
      }
    },
    { kind: 'service', action: 'daemon-reload' },
    { kind: 'service', action: 'enable', unit: SOCKET_UNIT },
    { kind: 'service', action: 'enable', unit: SERVICE_UNIT },
    // the socket first: the service takes it from systemd as fd://
    { kind: 'service', action: 'restart', unit: SOCKET_UNIT },
    { kind: 'service', action: 'restart', unit: SERVICE_UNIT }
  ]
  const title = why ? "set Docker's cgroup driver to systemd (a restart), then start cri-dockerd" : `start cri-dockerd (Docker already uses the systemd cgroup driver)`
  return step('runtime.configure', title, ['runtime.cri-dockerd', 'config.images'], ops)
}

function readyStep(p: PluginContext): Step {
  const { bin, criSocket } = p
  return step('runtime.ready', 'wait until cri-dockerd serves CRI', ['runtime.configure', 'binaries.crictl'], [
    {
      kind: 'task',
      title: `cri-dockerd answers CRI on ${criSocket} with Docker behind it`,
      shows: [`$ sudo ${displayArgv(crictlVersionArgv(bin('crictl'), criSocket))}   (polled for up to 60s: RuntimeName docker)`],
      run: async (ctx) => {
        const version = await waitForCriDockerd({ run: ctx.host.run, crictl: bin('crictl'), endpoint: criSocket, deadline: Date.now() + 60_000, logs: () => ctx.host.services.logs(SERVICE_UNIT, 30) })
        ctx.log(`cri-dockerd serves CRI for Docker ${version}`)
      }
    }
  ])
}

export const docker: RuntimeDriver = {
  // one store: Docker's own, through the host's socket
  exportArgv: (_paths, _ref, path, refs) => dockerArgv.save(path, refs),
  inputProblems: dockerInputProblems,
  setup(facts, _version, paths): RuntimeSetup {
    const why = facts.docker ? cgroupChange(facts) : undefined
    const notes = why
      ? [
          `${why}: the action sets native.cgroupdriver=systemd in ${paths.dockerDaemonJson} and restarts Docker, which stops running containers (a job's services: containers among them); cleanup puts the file back and restarts Docker again.` +
            (typeof facts.daemonJson?.['cgroup-parent'] === 'string' ? ` The host's cgroup-parent becomes a slice, as the systemd driver requires.` : '')
        ]
      : []
    return {
      criSocket: `unix://${onHost(paths, CRI_DOCKERD_PATHS.socket)}`,
      describe: `Docker${facts.dockerEngine ? ` ${facts.dockerEngine.version}` : ''} through cri-dockerd ${CRI_DOCKERD.version}`,
      problems: problems(facts, why !== undefined, paths),
      notes,
      steps: (p) => [criDockerdStep(p), configureStep(p, why), readyStep(p)],
      // dockerd pulls with root's Docker credentials (registry-credentials is refused with this runtime)
      pullsThroughDockerd: true,
      credentialsInRequest: () => false,
      kubeletArgs: () => [],
      downloads: (config) => [criDockerdArtifact(config.githubUrl, facts.arch)],
      // Docker must be there already: this runtime installs no package
      packages: [],
      // what the cluster runs is what `docker image ls` shows: a `docker build` image needs no registry
      imageStore: (run, mirrors) => dockerRuntimeStore(run, { mirrors }),
      storeRef: () => ({}),
      imageCommands: (_learned, mirrors) => ({
        list: () => dockerArgv.list(),
        // through a mirror the first pull names the mirror, and its image is then tagged as `ref`
        // (./store.ts); the dry run shows both, as the run does them
        pull: (ref) => {
          const source = pullSources(ref, mirrors)[0]
          return source === ref ? [dockerArgv.pull(ref)] : [dockerArgv.pull(source), dockerArgv.tag(source, ref)]
        },
        importArchive: (path) => dockerArgv.load(path),
        tag: (source, target) => dockerArgv.tag(source, target),
        exportArchive: (path, refs) => dockerArgv.save(path, refs)
      })
    }
  },

  hostRoots: (paths) => [onHost(paths, CRI_DOCKERD_PATHS.root)],
  diagnostics: (paths) => [
    { title: 'cri-docker journal (last 80 lines)', argv: journalArgv('cri-docker', 80), privileged: true, requires: [join(paths.systemdDir, SERVICE_UNIT)] },
    { title: 'docker info', argv: ['docker', 'info'], privileged: true },
    { title: 'docker journal (last 40 lines)', argv: journalArgv('docker', 40), privileged: true },
    { title: 'containers (crictl ps -a)', argv: [join(paths.binDir, 'crictl'), 'ps', '-a'], privileged: true, requires: [join(paths.binDir, 'crictl'), paths.crictlConfig] }
  ],
  // cri-dockerd's journal is the cri-docker unit's; Docker's is where its containers' failures show
  journals: (paths) => [{ unit: 'cri-docker', requires: [join(paths.systemdDir, SERVICE_UNIT)] }, { unit: 'docker' }],

  hints: [
    { pattern: /client version 1\.\d+ is too old/i, hint: `Docker refuses the API version cri-dockerd ${CRI_DOCKERD.version} speaks (${CRI_DOCKERD.dockerApiVersion}, from the Docker client it is built with): this Docker is newer than any the action was checked against. Use container-runtime: containerd, or a Docker whose minimum API version (docker version: "minimum version") is ${CRI_DOCKERD.dockerApiVersion} or lower.` },
    { pattern: /cgroup-parent for systemd cgroup should be a valid slice/i, hint: "Docker's cgroup-parent is a path, which the systemd cgroup driver refuses: it must name a slice (xxx.slice)." },
    // docker info, printed by the post step, says "Cgroup Driver: ..." on every run: only the kubelet's complaint counts
    { pattern: /kubelet cgroup driver: "?\w+"? is different/i, hint: "Cgroup driver mismatch: Docker must use the systemd cgroup driver (native.cgroupdriver=systemd in /etc/docker/daemon.json), as the kubelet does." },
    { pattern: /waiting for cri-dockerd to answer CRI|dial unix \S*cri-dockerd\.sock/i, hint: 'cri-dockerd did not answer: see the cri-docker journal above; `systemctl status cri-docker.socket cri-docker.service` shows whether systemd started them.' },
    { pattern: /ErrImageNeverPull|image can't be pulled/i, hint: 'A pod with imagePullPolicy: Never found no image of that name in Docker: `docker image ls` on the runner shows what the kubelet can use; the name must match exactly, tag included.' }
  ]
}
