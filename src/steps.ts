// The action's plan: every host step, what it needs first, and what it does. Pure: the
// same config and host facts always give the same plan, which is what the dry run prints
// and what the run executes.
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import * as tc from '@actions/tool-cache'
import { CNI_PLUGINS_VERSION, CONTAINERD_2_REQUIRED_MINOR, FLANNEL, SMOKE, crictlVersion } from './defaults.js'
import { cachedBinary, cachedTarball, type Artifact, type ToolKey } from './download.js'
import { displayArgv, lastLines } from './host/exec.js'
import { imagesToPreload, parseKubeadmImageList, pauseImage, predictKubeadmImages } from './images.js'
import type { Config } from './inputs.js'
import type { Op, Step, StepContext } from './plan.js'
import type { Paths } from './paths.js'
import type { HostFacts } from './probe.js'
import { parseContainerdVersion } from './probe.js'
import { registryHosts, renderContainerdConfig, renderHostsToml } from './render/containerd.js'
import { renderDaemonJson } from './render/docker.js'
import { renderFlannelManifest } from './render/flannel.js'
import { renderModulesLoad, renderSysctlConf } from './render/host.js'
import { renderKubeadmConfig } from './render/kubeadm.js'
import { renderSmokeManifest } from './render/smoke.js'
import { kubeadmDropIn, kubeletUnit } from './render/systemd.js'
import { containerdStore, ctrArgv, ctrPullArgv } from './runtime/driver.js'
import { preloadImages } from './runtime/preload.js'
import { waitForContainerd } from './runtime/ready.js'
import { FROM_KUBEADM, type RunState } from './state.js'
import { minorOf } from './versions.js'
import { kubectl, lastEvents, nodeFacts, unreadyPods } from './cluster/kube.js'
import { waitUntil } from './cluster/wait.js'

export interface PlanInput {
  config: Config
  facts: HostFacts
  /** resolved, vX.Y.Z */
  version: string
  paths: Paths
}

export interface Plan {
  steps: Step[]
  state: RunState
  /** warnings worth a line in the log and the summary */
  notes: string[]
}


export function artifacts(config: Config, version: string, arch: string): Record<'kubeadm' | 'kubelet' | 'kubectl' | 'crictl' | 'cni', Artifact> {
  const k8s = (name: string): Artifact => {
    const url = `${config.kubernetesReleaseUrl}/${version}/bin/linux/${arch}/${name}`
    return { name, url, checksumUrl: `${url}.sha256` }
  }
  const crictl = crictlVersion(minorOf(version))
  const crictlUrl = `${config.githubUrl}/kubernetes-sigs/cri-tools/releases/download/${crictl}/crictl-${crictl}-linux-${arch}.tar.gz`
  const cniUrl = `${config.githubUrl}/containernetworking/plugins/releases/download/${CNI_PLUGINS_VERSION}/cni-plugins-linux-${arch}-${CNI_PLUGINS_VERSION}.tgz`
  return {
    kubeadm: k8s('kubeadm'),
    kubelet: k8s('kubelet'),
    kubectl: k8s('kubectl'),
    crictl: { name: 'crictl', url: crictlUrl, checksumUrl: `${crictlUrl}.sha256` },
    cni: { name: 'cni-plugins', url: cniUrl, checksumUrl: `${cniUrl}.sha256` }
  }
}

export function flannelManifestSource(config: Config): string {
  return config.cniManifest ?? `${config.githubUrl}/flannel-io/flannel/releases/download/${FLANNEL.version}/kube-flannel.yml`
}

export function seedState(config: Config, version: string, containerdMajor?: number): RunState {
  const predicted = predictKubeadmImages(version, config.imageRepository)
  return {
    version,
    containerdMajor,
    // a minor the table lacks: kubeadm names its images at run time, the dry run says so
    kubeadmImages: predicted ?? [],
    kubeadmImagesConfirmed: false,
    cniImages: config.cni === 'flannel' && !config.cniManifest ? [...FLANNEL.images] : []
  }
}

/** Where pulls for a registry go, mirrors first: for error messages. */
export function pullEndpoints(config: Config, registry: string): string[] {
  const { server, mirrors } = registryHosts(config.registryMirrors.find((m) => m.registry === registry) ?? { registry, endpoints: [] })
  return [...mirrors, server]
}

/** Problems with this host that stop the plan before it changes anything. */
export function hostProblems(facts: HostFacts, version: string): string[] {
  const problems: string[] = []
  if (facts.existingCluster) {
    problems.push('A cluster from an earlier run is still on this host (/etc/kubernetes/admin.conf exists). Run `sudo kubeadm reset --force` first, or give the earlier run cleanup: true.')
  }
  if (facts.cpus < 2) problems.push(`kubeadm needs at least 2 CPUs; this runner has ${facts.cpus}.`)
  if (facts.containerd && facts.containerd.major < 2 && minorOf(version) >= CONTAINERD_2_REQUIRED_MINOR) {
    problems.push(
      `Kubernetes ${version} supports containerd 2.2 or newer, but this host has containerd ${facts.containerd.version}. Upgrade containerd (Docker's containerd.io package) or choose kubernetes-version 1.35.`
    )
  }
  return problems
}

async function installBinary(ctx: StepContext, artifact: Artifact, key: ToolKey, dest: string): Promise<void> {
  const file = await cachedBinary(artifact, key, ctx.log)
  await ctx.host.run(['install', '-D', '-m', '0755', file, dest], { privileged: true })
}

async function aptInstall(ctx: StepContext, packages: string[]): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
  const first = await ctx.host.run(install, { privileged: true, env, allowFailure: true })
  if (first.exitCode === 0) return
  // Stale package lists are the usual reason on runners; refresh once and try again.
  ctx.log(`apt-get install failed; refreshing the package lists: ${lastLines(first.stderr.trim(), 3)}`)
  await ctx.host.run(['apt-get', 'update'], { privileged: true, env })
  await ctx.host.run(install, { privileged: true, env })
}

export function buildPlan({ config, facts, version, paths }: PlanInput): Plan {
  const state = seedState(config, version, facts.containerd?.major)
  const criSocket = `unix://${paths.containerdSocket}`
  const notes: string[] = []
  const steps: Step[] = []
  const add = (s: Step): void => void steps.push(s)
  const bin = (name: string): string => join(paths.binDir, name)
  const kubeadmConfig = join(paths.stateDir, 'kubeadm.yaml')
  const cniManifest = join(paths.stateDir, 'cni.yaml')
  const smokeManifest = join(paths.stateDir, 'smoke.yaml')
  const kubeconfig = join(facts.user.home, '.kube', 'config')
  const kubeEnv = { KUBECONFIG: kubeconfig }
  const arts = artifacts(config, version, facts.arch)
  const smokeTest = config.smokeTest && config.cni !== 'none'
  if (config.smokeTest && !smokeTest) notes.push("smoke-test skipped: with cni 'none' no pod network exists for nginx until you install one.")

  // host: the kernel and packages kubeadm's preflight checks
  const hostSteps: string[] = []
  if (facts.swapOn) {
    hostSteps.push('host.swap')
    add({ id: 'host.swap', phase: 'host', title: 'turn swap off (the kubelet refuses to run with swap on)', needs: [], ops: [{ kind: 'exec', argv: ['swapoff', '-a'], privileged: true }] })
  }
  hostSteps.push('host.kernel')
  add({
    id: 'host.kernel',
    phase: 'host',
    title: 'load overlay and br_netfilter, enable forwarding and bridge netfilter',
    needs: [],
    ops: [
      { kind: 'write', path: paths.modulesLoad, render: renderModulesLoad },
      { kind: 'exec', argv: ['modprobe', '-a', 'overlay', 'br_netfilter'], privileged: true },
      { kind: 'write', path: paths.sysctlConf, render: renderSysctlConf },
      { kind: 'exec', argv: ['sysctl', '-p', paths.sysctlConf], privileged: true }
    ]
  })
  if (facts.missingPackages.length > 0) {
    hostSteps.push('host.packages')
    const pkgs = facts.missingPackages
    add({
      id: 'host.packages',
      phase: 'host',
      title: `install ${pkgs.join(', ')}`,
      needs: [],
      ops: [{ kind: 'task', title: `apt-get install ${pkgs.join(' ')}`, shows: [`$ sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}   (apt-get update first if that fails)`], run: (ctx) => aptInstall(ctx, pkgs) }]
    })
  }

  // binaries: every download verified against its published checksum, all at once
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    add({
      id: `binaries.${name}`,
      phase: 'binaries',
      title: `${name} ${version}`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: `download and verify ${name}`,
          shows: [`GET ${arts[name].url} (unless the tool cache has it)`, `verify SHA-256 against ${arts[name].checksumUrl}`, `$ sudo install -m 0755 <download> ${bin(name)}`],
          run: (ctx) => installBinary(ctx, arts[name], { tool: name, version, arch: facts.arch }, bin(name))
        }
      ]
    })
  }
  add({
    id: 'binaries.crictl',
    phase: 'binaries',
    title: `crictl ${crictlVersion(minorOf(version))}`,
    needs: [],
    ops: [
      {
        kind: 'task',
        title: 'download and verify crictl',
        shows: [`GET ${arts.crictl.url} (unless the tool cache has it)`, `verify SHA-256 against ${arts.crictl.checksumUrl}`, `extract; $ sudo install -m 0755 crictl ${bin('crictl')}`],
        run: async (ctx) => {
          const dir = await cachedTarball(arts.crictl, { tool: 'crictl', version: crictlVersion(minorOf(version)), arch: facts.arch }, ctx.log)
          await ctx.host.run(['install', '-D', '-m', '0755', join(dir, 'crictl'), bin('crictl')], { privileged: true })
        }
      },
      { kind: 'write', path: paths.crictlConfig, render: () => `runtime-endpoint: ${criSocket}\nimage-endpoint: ${criSocket}\ntimeout: 10\n` }
    ]
  })
  add({
    id: 'binaries.cni',
    phase: 'binaries',
    title: `CNI plugins ${CNI_PLUGINS_VERSION}`,
    needs: [],
    ops: [
      {
        kind: 'task',
        title: 'download and verify the CNI plugins',
        shows: [`GET ${arts.cni.url} (unless the tool cache has it)`, `verify SHA-256 against ${arts.cni.checksumUrl}`, `extract; $ sudo cp -r <plugins>/. ${paths.cniBinDir}`],
        run: async (ctx) => {
          const dir = await cachedTarball(arts.cni, { tool: 'cni-plugins', version: CNI_PLUGINS_VERSION, arch: facts.arch }, ctx.log)
          await ctx.host.run(['install', '-d', '-m', '0755', paths.cniBinDir], { privileged: true })
          await ctx.host.run(['cp', '-r', `${dir}/.`, paths.cniBinDir], { privileged: true })
        }
      }
    ]
  })
  add({
    id: 'binaries.kubelet-unit',
    phase: 'binaries',
    title: 'kubelet systemd unit and kubeadm drop-in',
    needs: ['binaries.kubelet'],
    ops: [
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service'), render: () => kubeletUnit(bin('kubelet')) },
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service.d', '10-kubeadm.conf'), render: () => kubeadmDropIn(bin('kubelet')) },
      { kind: 'service', action: 'reload' },
      { kind: 'service', action: 'enable', unit: 'kubelet' }
    ]
  })

  // init config first: kubeadm itself names the images from it
  add({
    id: 'init.config',
    phase: 'init',
    title: 'kubeadm configuration',
    needs: [],
    ops: [
      {
        kind: 'write',
        path: kubeadmConfig,
        mode: 0o600,
        render: () =>
          renderKubeadmConfig({
            kubernetesVersion: version,
            criSocket,
            podSubnet: config.podNetworkCidr,
            serviceSubnet: config.serviceCidr,
            imageRepository: config.imageRepository,
            untaint: config.untaint
          })
      }
    ]
  })
  add({
    id: 'images.list',
    phase: 'images',
    title: 'ask kubeadm which images it will use',
    needs: ['binaries.kubeadm', 'init.config'],
    ops: [
      {
        kind: 'task',
        title: 'kubeadm config images list',
        shows: [`$ ${bin('kubeadm')} config images list --config ${kubeadmConfig}`, `predicted: ${state.kubeadmImages.join(' ') || FROM_KUBEADM}`],
        run: async (ctx) => {
          const res = await ctx.host.run([bin('kubeadm'), 'config', 'images', 'list', '--config', kubeadmConfig], { privileged: true })
          ctx.state.kubeadmImages = parseKubeadmImageList(res.stdout)
          ctx.state.kubeadmImagesConfirmed = true
          ctx.log(ctx.state.kubeadmImages.join('\n'))
        }
      }
    ]
  })

  // runtime: Docker present (as the recipe has it), containerd serving CRI
  const runtimeNeeds = ['images.list']
  const installDocker = !facts.docker || !facts.containerd
  if (installDocker) {
    runtimeNeeds.push('runtime.docker')
    add({
      id: 'runtime.docker',
      phase: 'runtime',
      title: `install Docker (${facts.docker ? 'containerd' : 'docker'} not found on this host)`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: 'apt-get install docker.io',
          shows: ['$ sudo apt-get install -y --no-install-recommends docker.io   (brings containerd; apt-get update first if that fails)'],
          run: async (ctx) => {
            await aptInstall(ctx, ['docker.io'])
            const v = parseContainerdVersion((await ctx.host.run(['containerd', '--version'])).stdout)
            if (!v) throw new Error('Docker was installed but `containerd --version` names no version')
            ctx.state.containerdMajor = v.major
            if (v.major < 2 && minorOf(version) >= CONTAINERD_2_REQUIRED_MINOR) {
              throw new Error(`The distribution's Docker brought containerd ${v.version}, but Kubernetes ${version} needs containerd 2.2+. Install Docker's containerd.io, or choose kubernetes-version 1.35.`)
            }
          }
        }
      ]
    })
  }
  const backup = `${paths.containerdConfig}.kubeadm-single-node.bak`
  const runtimeOps: Op[] = []
  if (facts.containerdConfigExists) {
    // -n: a re-run on a self-hosted host keeps the first, original backup
    runtimeOps.push({ kind: 'exec', argv: ['cp', '-n', '-p', paths.containerdConfig, backup], privileged: true })
  }
  runtimeOps.push({
    kind: 'write',
    path: paths.containerdConfig,
    render: (s) =>
      renderContainerdConfig({
        major: s.containerdMajor ?? 2,
        sandboxImage: pauseImage(s.kubeadmImages) ?? `${config.imageRepository}/pause:${FROM_KUBEADM}`,
        certsDir: paths.certsDir
      })
  })
  for (const mirror of config.registryMirrors) {
    runtimeOps.push({ kind: 'write', path: join(paths.certsDir, mirror.registry, 'hosts.toml'), render: () => renderHostsToml(mirror) })
  }
  runtimeOps.push({ kind: 'service', action: 'restart', unit: 'containerd' })
  add({
    id: 'runtime.containerd',
    phase: 'runtime',
    title: `configure containerd ${facts.containerd?.version ?? '(installed with Docker)'} for CRI: layout version ${(state.containerdMajor ?? 2) >= 2 ? 3 : 2}, systemd cgroups, kubeadm's sandbox image`,
    needs: runtimeNeeds,
    ops: runtimeOps
  })
  const dockerHubMirrors = config.registryMirrors.find((m) => m.registry === 'docker.io')?.endpoints ?? []
  if (dockerHubMirrors.length > 0) {
    add({
      id: 'runtime.docker-mirrors',
      phase: 'runtime',
      title: "Docker's registry-mirrors (for the workflow's own docker pulls)",
      needs: installDocker ? ['runtime.docker'] : [],
      ops: [
        { kind: 'write', path: paths.dockerDaemonJson, render: () => renderDaemonJson(facts.daemonJson, { dockerHubMirrors }) },
        { kind: 'service', action: 'restart', unit: 'docker' }
      ]
    })
  }
  add({
    id: 'runtime.cri',
    phase: 'runtime',
    title: 'wait until containerd serves CRI',
    needs: ['runtime.containerd', 'binaries.crictl'],
    ops: [
      {
        kind: 'task',
        title: `containerd answers and its CRI plugin is loaded, then crictl info on ${criSocket}`,
        shows: [
          `$ sudo ctr --address ${paths.containerdSocket} version   (polled for up to 60s)`,
          `$ sudo ctr --address ${paths.containerdSocket} plugins ls   (io.containerd.grpc.v1 cri must be ok)`,
          `$ sudo ${bin('crictl')} --runtime-endpoint ${criSocket} info`
        ],
        run: async (ctx) => {
          const version = await waitForContainerd({
            run: ctx.host.run,
            address: paths.containerdSocket,
            deadline: Date.now() + 60_000,
            logs: () => ctx.host.services.logs('containerd', 30)
          })
          ctx.log(`containerd ${version} serves CRI`)
          await ctx.host.run([bin('crictl'), '--runtime-endpoint', criSocket, 'info'], { privileged: true })
        }
      }
    ]
  })

  // images: the CNI manifest names its images; everything is pulled before init
  const preloadNeeds = ['runtime.cri', 'images.list']
  if (config.cni === 'flannel') {
    const source = flannelManifestSource(config)
    preloadNeeds.push('images.cni')
    add({
      id: 'images.cni',
      phase: 'images',
      title: `flannel manifest (${config.cniManifest ? 'given' : FLANNEL.version}), net-conf Network = ${config.podNetworkCidr}`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: 'fetch and render the flannel manifest',
          shows: [/^https?:/.test(source) ? `GET ${source}` : `read ${source}`, `set net-conf.json Network to ${config.podNetworkCidr}; write ${cniManifest}`, `images: ${state.cniImages.join(' ') || '(read from the manifest)'}`],
          run: async (ctx) => {
            let text: string
            if (/^https?:/.test(source)) {
              const file = await tc.downloadTool(source)
              text = await readFile(file, 'utf8')
              await rm(file, { force: true })
            } else {
              text = await readFile(source, 'utf8')
            }
            const rendered = renderFlannelManifest(text, config.podNetworkCidr)
            ctx.state.cniImages = rendered.images
            ctx.state.cniManifestPath = cniManifest
            await ctx.host.writeFile(cniManifest, rendered.manifest)
            ctx.log(`manifest images: ${rendered.images.join(', ')}`)
          }
        }
      ]
    })
  }
  const store = { address: paths.containerdSocket, hostsDir: paths.certsDir }
  add({
    id: 'images.preload',
    phase: 'images',
    title: 'preload every image the cluster will ask for',
    needs: preloadNeeds,
    ops: [
      {
        kind: 'task',
        title: 'import archives, then pull what is missing (4 at a time)',
        shows: [
          ...config.imageArchives.map((a) => `$ sudo ${displayArgv(ctrArgv(store, 'images', 'import', a))}`),
          `$ sudo ${displayArgv(ctrArgv(store, 'images', 'list', '--quiet'))}   (what is already there is kept)`,
          ...imagesToPreload({ kubeadm: state.kubeadmImages, cni: state.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: config.preloadImages }).map(
            (i) => `$ sudo ${displayArgv(ctrPullArgv(store, i, (state.containerdMajor ?? 2) >= 2))}`
          ),
          ...(state.kubeadmImages.length === 0 ? [`and each of kubeadm's own images, ${FROM_KUBEADM}`] : [])
        ],
        run: async (ctx) => {
          const images = imagesToPreload({ kubeadm: ctx.state.kubeadmImages, cni: ctx.state.cniImages, smoke: smokeTest ? config.smokeTestImage : undefined, extra: config.preloadImages })
          const res = await preloadImages(containerdStore(ctx.host.run, store), { images, archives: config.imageArchives, whereFor: (r) => pullEndpoints(config, r), log: ctx.log })
          ctx.state.imageCounts = { present: res.present.length, pulled: res.pulled.length, imported: res.imported.length }
        }
      }
    ]
  })

  // init
  add({
    id: 'init.kubeadm',
    phase: 'init',
    title: `kubeadm init ${version}`,
    needs: [...hostSteps, 'runtime.cri', 'images.preload', 'binaries.kubelet-unit', 'binaries.cni', 'init.config'],
    ops: [{ kind: 'exec', argv: [bin('kubeadm'), 'init', '--config', kubeadmConfig, '--skip-token-print'], privileged: true }]
  })
  add({
    id: 'init.kubeconfig',
    phase: 'init',
    title: `kubeconfig for ${facts.user.name} (mode 0600)`,
    // every later step talks to the cluster through kubectl
    needs: ['init.kubeadm', 'binaries.kubectl'],
    ops: [
      {
        kind: 'task',
        title: `copy ${paths.adminConf} to ${kubeconfig}`,
        shows: [`$ mkdir -p ${join(facts.user.home, '.kube')}`, `$ sudo install -m 0600 -o ${facts.user.uid} -g ${facts.user.gid} ${paths.adminConf} ${kubeconfig}`],
        run: async (ctx) => {
          await mkdir(join(facts.user.home, '.kube'), { recursive: true, mode: 0o700 })
          await ctx.host.run(['install', '-m', '0600', '-o', String(facts.user.uid), '-g', String(facts.user.gid), paths.adminConf, kubeconfig], { privileged: true })
          ctx.state.kubeconfig = kubeconfig
          ctx.state.deadline = Date.now() + config.timeoutSeconds * 1000
        }
      }
    ]
  })

  // network
  const readyNeeds = ['init.kubeconfig']
  if (config.cni === 'flannel') {
    readyNeeds.push('network.cni')
    add({
      id: 'network.cni',
      phase: 'network',
      title: 'apply flannel',
      needs: ['init.kubeconfig', 'images.cni'],
      ops: [{ kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', cniManifest], env: kubeEnv }]
    })
  }
  const namespaces = config.cni === 'flannel' ? ['kube-system', FLANNEL.namespace] : ['kube-system']
  add({
    id: 'ready.cluster',
    phase: 'ready',
    title: config.cni === 'flannel' ? 'node Ready, kube-system and flannel pods ready' : 'control plane pods ready (no CNI: the node stays NotReady)',
    needs: readyNeeds,
    ops: [
      {
        kind: 'task',
        title: `wait (deadline: ${config.timeoutSeconds}s after init)`,
        shows: [`poll kubectl get nodes,pods -A -o json until ${config.cni === 'flannel' ? 'the node is Ready and every pod in kube-system and kube-flannel is Ready' : 'the control-plane pods are Ready'}`],
        run: async (ctx) => {
          const k = kubectl(ctx.host.run, bin('kubectl'), kubeconfig)
          const explain = async (): Promise<string> => {
            const pods = (await k.json(['get', 'pods', '-A'])).items
            const events = (await k.json(['get', 'events', '-A'])).items
            return [`Pods not ready:`, ...unreadyPods(pods).map((l) => `  ${l}`), `Last events:`, ...lastEvents(events, 10).map((l) => `  ${l}`)].join('\n')
          }
          const node = await waitUntil(
            config.cni === 'flannel' ? 'the node to become Ready' : 'the node to register',
            ctx.state.deadline ?? Date.now(),
            async (observe) => {
              const items = (await k.json(['get', 'nodes'])).items
              if (items.length === 0) {
                observe('no node registered yet')
                return undefined
              }
              const n = nodeFacts(items[0])
              observe(`node ${n.name}: ${n.ready ? 'Ready' : `NotReady (${n.why})`}`)
              return config.cni === 'none' || n.ready ? n : undefined
            },
            { explain }
          )
          ctx.state.nodeName = node.name
          ctx.state.nodeIp = node.ip
          ctx.log(`node ${node.name} (${node.ip}) registered${node.ready ? ' and Ready' : ''}`)
          await waitUntil(
            `pods in ${namespaces.join(', ')} to be ready`,
            ctx.state.deadline ?? Date.now(),
            async (observe) => {
              const pods = (await k.json(['get', 'pods', '-A'])).items.filter((p: any) =>
                config.cni === 'none' ? p.metadata?.labels?.tier === 'control-plane' : true
              )
              const waiting = unreadyPods(pods, namespaces)
              observe(waiting.length ? waiting.join('; ') : 'no pods yet')
              const any = pods.some((p: any) => namespaces.includes(p.metadata?.namespace))
              return any && waiting.length === 0 ? true : undefined
            },
            { explain }
          )
        }
      }
    ]
  })

  if (smokeTest) {
    add({
      id: 'smoke.deploy',
      phase: 'smoke',
      title: `deploy ${config.smokeTestImage} behind a NodePort Service`,
      needs: ['init.kubeconfig'],
      ops: [
        { kind: 'write', path: smokeManifest, render: () => renderSmokeManifest(SMOKE.name, SMOKE.namespace, config.smokeTestImage) },
        { kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', smokeManifest], env: kubeEnv }
      ]
    })
    add({
      id: 'smoke.check',
      phase: 'smoke',
      title: 'nginx answers 200 on the node IP and NodePort',
      needs: ['smoke.deploy', 'ready.cluster'],
      ops: [
        {
          kind: 'task',
          title: 'HTTP GET http://<node InternalIP>:<nodePort>/ until 200',
          shows: [`$ kubectl get service ${SMOKE.name} -o json   (nodePort)`, 'GET http://<node InternalIP>:<nodePort>/ until it answers 200, within the deadline'],
          run: async (ctx) => {
            const k = kubectl(ctx.host.run, bin('kubectl'), kubeconfig)
            const svc = await k.json(['get', 'service', SMOKE.name, '-n', SMOKE.namespace])
            const port = Number(svc.spec?.ports?.[0]?.nodePort)
            if (!Number.isInteger(port) || port <= 0) throw new Error(`service ${SMOKE.name} has no nodePort`)
            const url = `http://${ctx.state.nodeIp}:${port}/`
            await waitUntil(
              `nginx to answer 200 at ${url}`,
              ctx.state.deadline ?? Date.now(),
              async (observe) => {
                const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
                observe(`HTTP ${res.status}`)
                return res.status === 200 ? true : undefined
              },
              {
                explain: async () => {
                  const pods = (await k.json(['get', 'pods', '-n', SMOKE.namespace, '-l', `app=${SMOKE.name}`])).items
                  return `smoke pods: ${unreadyPods(pods).join('; ') || 'Ready'}`
                }
              }
            )
            ctx.state.nodePort = port
            ctx.state.nginxUrl = url
            ctx.log(`${url} answered 200`)
          }
        }
      ]
    })
  }
  return { steps, state, notes }
}
