// containerd as the kubelet's runtime, in one of two ways, decided before anything changes:
// - the host's containerd (Docker's containerd.io on hosted runners), when it supports the
//   chosen Kubernetes: its config written whole for CRI, restarted, waited for;
// - the action's own containerd, from containerd's release (verified against its published
//   checksum), when the host has none or one too old: its own binaries, config, root, state,
//   socket and unit beside the host's, so Docker and the job's containers are never touched.
import { join } from 'node:path'
import { containerdRequirement, containerdSupported } from '../../config/kubernetes.js'
import { minorOf } from '../../config/versions.js'
import { FROM_KUBEADM, type Learned } from '../../engine/learned.js'
import { step, type Op, type Step } from '../../engine/step.js'
import { aptInstallArgv } from '../../host/apt.js'
import { cachedTarball, verifyLine, type Artifact } from '../../host/download.js'
import { displayArgv } from '../../host/exec.js'
import { installArgv } from '../../host/host.js'
import type { Paths } from '../../host/paths.js'
import type { HostFacts } from '../../host/probe.js'
import { journalArgv } from '../../host/services.js'
import { criAuths, requestCredentialNotes } from '../../images/credentials.js'
import { pauseImage } from '../../images/kubeadm.js'
import type { PluginContext } from '../../engine/plugin-context.js'
import type { RuntimeDriver, RuntimeSetup } from '../types.js'
import { renderContainerdConfig, renderHostsToml, renderLoopbackHostsToml } from './config.js'
import { waitForContainerd } from './ready.js'
import { credentialProviderFiles, credentialProviderFlags, credentialProviderOps, credentialsInRequest, usesCredentialProvider } from './credentials.js'
import { containerdStore, criPullArgv, ctrArgv, ctrExportArgv, ctrImportArgv, ctrPullArgv, type ContainerdStoreOptions } from './store.js'
import { privatePaths, privateRoots } from './paths.js'
import { PIN_SOURCE, pinnedDigest } from '../../config/pins.js'
import { PRIVATE_UNIT, privateContainerdUnit } from './unit.js'

/** The containerd the action brings where the host's cannot serve: newer than every line the version table lists. */
export const PRIVATE_CONTAINERD = { version: '2.2.1', binaries: ['containerd', 'containerd-shim-runc-v2', 'ctr'] } as const

export function containerdArtifact(githubUrl: string, arch: string): Artifact {
  const v = PRIVATE_CONTAINERD.version
  const url = `${githubUrl}/containerd/containerd/releases/download/v${v}/containerd-${v}-linux-${arch}.tar.gz`
  return { name: 'containerd', url, checksumUrl: `${url}.sha256sum`, pinned: pinnedDigest('containerd', v, arch), pinSource: PIN_SOURCE, input: 'github-url' }
}

/** Why the host's containerd cannot serve this version, or undefined when it can (or there is none). */
function unsupported(version: string, facts: HostFacts): string | undefined {
  if (!facts.containerd) return undefined
  const minor = minorOf(version)
  if (containerdSupported(minor, facts.containerd.version) !== false) return undefined
  return `Kubernetes ${version} supports containerd ${containerdRequirement(minor)} (containerd's RELEASES.md), but this host has containerd ${facts.containerd.version}`
}

interface Layout {
  own: boolean
  /** the ctr that speaks to it */
  ctr: string
  socket: string
  config: string
  certsDir: string
  unit: string
}

function layout(own: boolean, paths: Paths): Layout {
  return own
    ? {
        own,
        ctr: join(privatePaths(paths).prefix, 'bin', 'ctr'),
        socket: join(privatePaths(paths).state, 'containerd.sock'),
        config: join(privatePaths(paths).configDir, 'config.toml'),
        certsDir: join(privatePaths(paths).configDir, 'certs.d'),
        unit: PRIVATE_UNIT
      }
    : { own, ctr: 'ctr', socket: paths.containerdSocket, config: paths.containerdConfig, certsDir: paths.certsDir, unit: 'containerd' }
}

const storeOptions = (l: Layout, paths: Paths, containerdMajor: number | undefined): ContainerdStoreOptions => ({
  ctr: l.ctr,
  address: l.socket,
  hostsDir: l.certsDir,
  crictl: join(paths.binDir, 'crictl'),
  credentialsInRequest: credentialsInRequest(containerdMajor)
})

/** A host without containerd gets Docker, as the original recipe has it: runc comes with it. */
function installDockerStep(): Step {
  return step('runtime.install', 'install Docker (no containerd on this host)', [], [
    {
      kind: 'task',
      title: 'apt-get install docker.io',
      shows: [`$ sudo ${aptInstallArgv(['docker.io']).join(' ')}   (brings runc; apt-get update first if that fails; left installed by cleanup)`],
      run: (ctx) => ctx.host.installPackages(['docker.io'], ctx.log)
    }
  ])
}

function privateContainerdStep(p: PluginContext, l: Layout): Step {
  const { config, facts, paths } = p
  const art = containerdArtifact(config.githubUrl, facts.arch)
  const own = privatePaths(paths)
  const binDir = join(own.prefix, 'bin')
  const exec = { mode: 0o755 }
  return step('runtime.containerd', `containerd ${PRIVATE_CONTAINERD.version} of the action's own, beside the host's`, p.cache ? ['cache.restore'] : [], [
    {
      kind: 'task',
      title: 'download and verify containerd',
      shows: [
        `GET ${art.url} (unless the tool cache${p.cache ? ' or the cache entry' : ''} has it)`,
        verifyLine(art),
        `extract; for ${PRIVATE_CONTAINERD.binaries.join(', ')}: $ sudo ${displayArgv(installArgv('<extracted>/bin/NAME', join(binDir, 'NAME'), exec))}`,
        `(cleanup removes them, and ${own.root} and ${own.state})`
      ],
      run: async (ctx) => {
        const dir = await cachedTarball(art, { tool: 'containerd', version: PRIVATE_CONTAINERD.version, arch: facts.arch }, ctx.log, p.cache)
        await Promise.all(PRIVATE_CONTAINERD.binaries.map((b) => ctx.host.installFile(join(dir, 'bin', b), join(binDir, b), exec)))
        await ctx.host.willCreate(own.root, 'dir')
        await ctx.host.willCreate(own.state, 'dir')
      }
    },
    { kind: 'write', path: join(paths.systemdDir, `${l.unit}.service`), render: () => privateContainerdUnit(binDir, l.config) }
  ])
}

function configureStep(p: PluginContext, l: Layout, needs: Step['needs']): Step {
  const { config, facts, paths, learned } = p
  const auths = criAuths(config.registryCredentials)
  const render = (lr: Learned, reveal: boolean): string =>
    renderContainerdConfig({
      major: lr.containerdMajor ?? 2,
      sandboxImage: pauseImage(lr.kubeadmImages) ?? `${config.imageRepository}/pause:${FROM_KUBEADM}`,
      certsDir: l.certsDir,
      ...(l.own ? { root: privatePaths(paths).root, state: privatePaths(paths).state, address: l.socket } : {}),
      auths,
      reveal
    })
  // containerd 2.x: the credentials go with each pull (the kubelet's credential provider, the
  // preload's crictl), and config.toml holds none; 1.x: config.toml holds them, root's alone
  const inRequest = credentialsInRequest(learned.containerdMajor)
  if (inRequest && config.registryCredentials.length > 0) p.notes.push(...requestCredentialNotes(config.registryCredentials, config.registryMirrors))
  const ops: Op[] = [
    {
      kind: 'write',
      path: l.config,
      ...(auths.length && !inRequest ? { mode: 0o600, reveal: (lr: Learned) => render(lr, true) } : {}),
      render: (lr: Learned) => render(lr, false)
    },
    ...(usesCredentialProvider(config, learned.containerdMajor) ? credentialProviderOps(config, paths) : []),
    ...config.registryMirrors.map((mirror) => ({ kind: 'write' as const, path: join(l.certsDir, mirror.registry, 'hosts.toml'), render: () => renderHostsToml(mirror) })),
    // containerd reads certs.d at each pull: the add-ons' loopback registries need no restart of their own
    ...p.loopbackRegistries.map((host) => ({ kind: 'write' as const, path: join(l.certsDir, host, 'hosts.toml'), render: () => renderLoopbackHostsToml(host) }))
  ]
  if (l.own) ops.push({ kind: 'service', action: 'daemon-reload' }, { kind: 'service', action: 'enable', unit: l.unit })
  ops.push(
    {
      // found by the system test: the CRI plugin makes its CNI config directory when it starts
      kind: 'task',
      title: `containerd's CRI plugin will create ${paths.cniConfDir}`,
      shows: [`(cleanup removes ${paths.cniConfDir} where it did not exist)`],
      run: (ctx) => ctx.host.willCreate(paths.cniConfDir, 'dir')
    },
    { kind: 'service', action: 'restart', unit: l.unit }
  )
  const what = l.own ? `containerd ${PRIVATE_CONTAINERD.version} (the action's own)` : `containerd ${facts.containerd?.version}`
  const provider = usesCredentialProvider(config, learned.containerdMajor) ? '; registry-credentials through a kubelet credential provider' : ''
  return step('runtime.configure', `configure ${what} for CRI: layout version ${(learned.containerdMajor ?? 2) >= 2 ? 3 : 2}, systemd cgroups, kubeadm's sandbox image${provider}`, needs, ops)
}

function readyStep(p: PluginContext, l: Layout): Step {
  const { bin, criSocket } = p
  const ctr = [l.ctr, '--address', l.socket]
  return step('runtime.ready', 'wait until containerd serves CRI', ['runtime.configure', 'binaries.crictl'], [
    {
      kind: 'task',
      title: `containerd answers and its CRI plugin is loaded, then crictl info on ${criSocket}`,
      shows: [
        `$ sudo ${displayArgv([...ctr, 'version'])}   (polled for up to 60s)`,
        `$ sudo ${displayArgv([...ctr, 'plugins', 'ls'])}   (io.containerd.grpc.v1 cri must be ok)`,
        `$ sudo ${displayArgv([bin('crictl'), '--runtime-endpoint', criSocket, 'info'])}`
      ],
      run: async (ctx) => {
        const version = await waitForContainerd({ run: ctx.host.run, ctr: l.ctr, address: l.socket, deadline: Date.now() + 60_000, logs: () => ctx.host.services.logs(l.unit, 30) })
        ctx.log(`containerd ${version} serves CRI`)
        await ctx.host.run([bin('crictl'), '--runtime-endpoint', criSocket, 'info'], { privileged: true })
      }
    }
  ])
}

export const containerd: RuntimeDriver = {
  exportArgv(paths, ref, path, refs) {
    const { own, containerdMajor: major } = ref
    if (typeof own !== 'boolean' || typeof major !== 'number' || !Number.isInteger(major) || major < 1 || major > 9) {
      throw new Error(`the record names a containerd store the action never writes (${JSON.stringify(ref)})`)
    }
    return ctrExportArgv(storeOptions(layout(own, paths), paths, major), path, refs, major >= 2)
  },
  // load-images and registry-credentials are both served (the preload, the CRI's config or the kubelet's provider)
  inputProblems: () => [],
  setup(facts, version, paths): RuntimeSetup {
    const tooOld = unsupported(version, facts)
    const own = !facts.containerd || tooOld !== undefined
    const l = layout(own, paths)
    const major = own ? Number(PRIVATE_CONTAINERD.version.split('.')[0]) : facts.containerd?.major
    const notes = tooOld
      ? [`${tooOld}: the action runs its own containerd ${PRIVATE_CONTAINERD.version} for the cluster beside it (unit ${PRIVATE_UNIT}); Docker and the host's containerd are left alone.`]
      : []
    return {
      criSocket: `unix://${l.socket}`,
      describe: own ? `containerd ${PRIVATE_CONTAINERD.version} (the action's own${facts.containerd ? `; the host's ${facts.containerd.version} is too old` : ''})` : `containerd ${facts.containerd!.version}`,
      problems: [],
      notes,
      downloads: (config) => (own ? [containerdArtifact(config.githubUrl, facts.arch)] : []),
      packages: facts.containerd ? [] : ['docker.io'],
      containerdMajor: major,
      steps(p) {
        const steps: Step[] = []
        const needs: Step['needs'] = ['config.images']
        if (!facts.containerd) {
          steps.push(installDockerStep())
          needs.push('runtime.install')
        }
        if (own) {
          steps.push(privateContainerdStep(p, l))
          needs.push('runtime.containerd')
        }
        steps.push(configureStep(p, l, needs), readyStep(p, l))
        return steps
      },
      pullsThroughDockerd: false,
      credentialsInRequest: (learned) => credentialsInRequest(learned.containerdMajor),
      // registry-credentials on containerd 2.x: the kubelet's credential provider (./credentials.ts)
      kubeletArgs: (config, paths) => (usesCredentialProvider(config, major) ? credentialProviderFlags(credentialProviderFiles(paths)) : []),
      imageStore: (run) => containerdStore(run, storeOptions(l, paths, major)),
      storeRef: (learned) => ({ own, containerdMajor: learned.containerdMajor ?? major ?? 2 }),
      imageCommands(learned) {
        const o = storeOptions(l, paths, learned.containerdMajor)
        return {
          list: () => ctrArgv(o, 'images', 'list', '--quiet'),
          // ctr 2.x takes --local to read the hosts directory as 1.x does
          pull: (ref, credential) => [credential ? criPullArgv(o, ref, o.credentialsInRequest) : ctrPullArgv(o, ref, (learned.containerdMajor ?? 2) >= 2)],
          importArchive: (path) => ctrImportArgv(o, path, (learned.containerdMajor ?? 2) >= 2),
          tag: (source, target) => ctrArgv(o, 'images', 'tag', '--force', source, target),
          exportArchive: (path, refs) => ctrExportArgv(o, path, refs, (learned.containerdMajor ?? 2) >= 2)
        }
      }
    }
  },

  hostRoots: privateRoots,
  diagnostics: (paths) => [
    { title: 'containerd journal (last 80 lines)', argv: journalArgv('containerd', 80), privileged: true },
    { title: `${PRIVATE_UNIT} journal (last 80 lines)`, argv: journalArgv(PRIVATE_UNIT, 80), privileged: true, requires: [join(paths.systemdDir, `${PRIVATE_UNIT}.service`)] },
    // crictl reads its endpoint from /etc/crictl.yaml, which names the one the cluster uses
    { title: 'containers (crictl ps -a)', argv: [join(paths.binDir, 'crictl'), 'ps', '-a'], privileged: true, requires: [join(paths.binDir, 'crictl'), paths.crictlConfig] }
  ],
  journals: (paths) => [{ unit: 'containerd' }, { unit: PRIVATE_UNIT, requires: [join(paths.systemdDir, `${PRIVATE_UNIT}.service`)] }],

  hints: [
    { pattern: /unknown service runtime\.v1\.RuntimeService/, hint: "containerd's CRI plugin is disabled (disabled_plugins = [\"cri\"]): the action writes a config with CRI on; check that nothing rewrote /etc/containerd/config.toml." },
    { pattern: /failed to get sandbox image|pinned_images|sandbox image/i, hint: "The sandbox (pause) image is not the one kubeadm uses, or the mirror lacks it: image-repository's pause must match containerd's sandbox image." },
    // only containerd 1.x is given registry.configs (2.x removes it in v2.4); a containerd that
    // drops a property refuses the CRI config naming it, as 2.0 did `mirrors`
    { pattern: /`?configs`? is no longer supported|unknown.*registry\.configs/i, hint: "This containerd no longer reads the CRI's registry.configs auth that registry-credentials writes for containerd 1.x: check that the detected containerd major matches the one running, or give pods imagePullSecrets instead." },
    { pattern: /credential provider|image-credential-provider/i, hint: "The kubelet's image credential provider (registry-credentials with containerd 2.x) failed: its config and executable are under /etc/kubeadm-single-node/credential-provider; run the executable with a CredentialProviderRequest on stdin as root to see its answer." },
    { pattern: /cgroup driver|misconfiguration: kubelet cgroup driver/i, hint: 'Cgroup driver mismatch: containerd must run runc with SystemdCgroup = true, as the kubelet uses systemd.' }
  ]
}
