// The whole main step, in process, against a simulated host: downloads come from a
// loopback server (with real checksums and real tarballs), host commands are recording
// shims, and the "NodePort" is a loopback server answering like nginx. What this proves:
// the orchestration, ordering, outputs, summary and failure reporting. What it cannot:
// that a real kubeadm init succeeds (that needs a hosted runner; see the e2e workflow).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { access, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, beforeEach, describe, it } from 'node:test'
import * as core from '@actions/core'
import { parse as parseToml } from 'smol-toml'
import { parseAllDocuments } from 'yaml'
import { actionMain } from '../src/entry/action.js'
import type { Paths } from '../src/host/paths.js'
import { ALL_IMAGES, onlyProbes } from './helpers/facts.js'
import { serve, type Route, type TestServer } from './helpers/http.js'
import { diffSnapshots, layRunner, releaseRoutes, snapshot } from './helpers/host-tree.js'
import { inputEnv, parseCommandFile, sandbox, stateRecord, type Sandbox } from './helpers/runner.js'

describe('main step against a simulated host', () => {
  let server: TestServer
  let sb: Sandbox
  let root: string
  let paths: Paths
  let routes: Record<string, Route>
  const savedEnv = { ...process.env }

  before(async () => {
    routes = await releaseRoutes()
    server = await serve(routes)
  })
  after(() => server.close())

  beforeEach(async () => {
    sb = await sandbox()
    root = sb.root
    paths = await layRunner(root)
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
    Object.assign(process.env, sb.env, { HOME: join(root, 'home/runner'), SHIM_NODE_PORT: new URL(server.url).port })
    process.exitCode = undefined
    // core.summary remembers the first summary file it wrote to; each run here has its own
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  })
  after(() => {
    process.env = savedEnv
    process.exitCode = undefined
  })

  const inputs = (extra: Record<string, string> = {}) =>
    Object.assign(process.env, inputEnv({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, 'pod-network-cidr': '10.32.0.0/16', ...extra }))
  const commands = async () => (await readFile(sb.files.log, 'utf8')).split('\n').filter((l) => l !== '')
  const placed = (p: string) => readFile(p, 'utf8')
  const record = async () => stateRecord(await readFile(sb.files.state, 'utf8'))
  const exists = (p: string) => access(p).then(() => true, () => false)

  it('builds the cluster: files, order, outputs, summary', async () => {
    inputs({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })
    await actionMain(paths)
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.equal(process.exitCode, undefined, summary)

    const out = parseCommandFile(await readFile(sb.files.output, 'utf8'))
    assert.equal(out['kubernetes-version'], 'v1.34.2')
    assert.equal(out['node-name'], 'runnervm')
    assert.equal(out['node-ip'], '127.0.0.1')
    assert.equal(out['node-port'], new URL(server.url).port)
    assert.equal(out['nginx-url'], `http://127.0.0.1:${new URL(server.url).port}/`)
    assert.equal(out.kubeconfig, join(root, 'home/runner/.kube/config'))
    const timings = JSON.parse(out.timings)
    for (const phase of ['host', 'binaries', 'runtime', 'images', 'init', 'network', 'ready', 'smoke', 'total']) assert.equal(typeof timings[phase], 'number', phase)
    // counted from the process's start (the step's, on a runner): here the test's, so at least the run's total
    assert.ok(Number(out['time-to-ready']) >= timings.total - 0.1, `${out['time-to-ready']} vs ${timings.total}`)
    assert.match(summary, new RegExp(`^<p><strong>Ready in ${out['time-to-ready'].replace('.', '\\.')} s: nginx answered at http://127\\.0\\.0\\.1:\\d+/ \\(Kubernetes v1\\.34\\.2, `))
    assert.match(await readFile(sb.files.env, 'utf8'), /^KUBECONFIG<<.*\n.*\.kube\/config\n/m)
    assert.match(await readFile(sb.files.path, 'utf8'), new RegExp(paths.binDir))
    assert.match(summary, /<table>/)
    assert.match(summary, /```mermaid\ngantt/)

    // the files, as the host would have them
    const cfg = parseToml(await placed(paths.containerdConfig)) as any
    assert.equal(cfg.plugins['io.containerd.cri.v1.images'].pinned_images.sandbox, 'registry.k8s.io/pause:3.10.1')
    assert.equal(cfg.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes.runc.options.SystemdCgroup, true)
    assert.ok('https://mirror.gcr.io' in (parseToml(await placed(join(paths.certsDir, 'docker.io/hosts.toml'))) as any).host)
    const [init, cluster] = parseAllDocuments(await placed(join(paths.stateDir, 'kubeadm.yaml'))).map((d) => d.toJS())
    assert.deepEqual(init.nodeRegistration.taints, [])
    assert.equal(cluster.networking.podSubnet, '10.32.0.0/16')
    const cni = parseAllDocuments(await placed(join(paths.stateDir, 'cni.yaml'))).map((d) => d.toJS())
    assert.equal(JSON.parse(cni[0].data['net-conf.json']).Network, '10.32.0.0/16')
    assert.equal(await placed(join(paths.binDir, 'kubelet')), routes['/release/v1.34.2/bin/linux/amd64/kubelet'] && (routes['/release/v1.34.2/bin/linux/amd64/kubelet'] as { body: string }).body, 'the verified download is what was installed')
    assert.match(await placed(join(paths.systemdDir, 'kubelet.service.d/10-kubeadm.conf')), /ExecStart=\n/)
    assert.equal(await placed(join(paths.cniBinDir, 'portmap')), 'plugin portmap')
    assert.equal(await exists(join(paths.cniBinDir, 'README.md')), false, 'only the plugins land in /opt/cni/bin')
    assert.equal((await record()).changes.length > 30, true, 'every host change is in the ledger')

    // the order that matters
    const cmds = await commands()
    const at = (re: RegExp): number => {
      const i = cmds.findIndex((c) => re.test(c))
      assert.ok(i >= 0, `no command matching ${re}:\n${cmds.join('\n')}`)
      return i
    }
    const lastPull = cmds.findLastIndex((c) => /^ctr .* images pull --local --hosts-dir /.test(c))
    assert.ok(at(/^systemctl restart -- containerd$/) < at(/^crictl --runtime-endpoint .* info$/))
    assert.ok(at(/^crictl --runtime-endpoint .* info$/) < at(/^ctr .* images pull/))
    assert.ok(lastPull < at(/^kubeadm init --config /))
    if (cmds.includes('swapoff -a')) assert.ok(at(/^swapoff -a$/) < at(/^kubeadm init/))
    assert.ok(at(/^kubeadm init/) < at(/^kubectl apply -f .*cni\.yaml$/))
    const pulled = cmds.filter((c) => / images pull --local/.test(c)).map((c) => c.split(' ').at(-1))
    assert.deepEqual(pulled.sort(), [
      'docker.io/library/nginx:stable-alpine',
      'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3',
      'ghcr.io/flannel-io/flannel:v0.28.9',
      'registry.k8s.io/coredns/coredns:v1.12.1',
      'registry.k8s.io/etcd:3.6.5-0',
      'registry.k8s.io/kube-apiserver:v1.34.2',
      'registry.k8s.io/kube-controller-manager:v1.34.2',
      'registry.k8s.io/kube-proxy:v1.34.2',
      'registry.k8s.io/kube-scheduler:v1.34.2'
    ], 'the pause image was present already and is not pulled again')
  })

  it('stops at a tampered download, installs nothing of it, and tells post what happened', async () => {
    const good = routes['/release/v1.34.2/bin/linux/amd64/kubelet']
    routes['/release/v1.34.2/bin/linux/amd64/kubelet'] = { body: 'tampered' }
    try {
      inputs()
      await actionMain(paths)
    } finally {
      routes['/release/v1.34.2/bin/linux/amd64/kubelet'] = good
    }
    assert.equal(process.exitCode, 1)
    const cmds = await commands()
    assert.equal(await exists(join(paths.binDir, 'kubelet')), false, 'the tampered kubelet was never installed')
    assert.equal(cmds.some((c) => /^kubeadm init/.test(c)), false)
    const state = await record()
    assert.equal(state.failed.step, 'binaries.kubelet')
    assert.match(state.failed.message, /Checksum mismatch for kubelet/)
    assert.ok(state.completed.includes('host.kernel'))
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.match(summary, /kubeadm-single-node failed/)
    assert.match(summary, /<th>phase<\/th>/, 'a failure still reports what each phase took')
    assert.equal(typeof JSON.parse(parseCommandFile(await readFile(sb.files.output, 'utf8')).timings).binaries, 'number')
  })

  /** Runs the main step with what it writes to stdout (the workflow commands) captured. */
  const captured = async (): Promise<string> => {
    const write = process.stdout.write.bind(process.stdout)
    let out = ''
    process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write
    try {
      await actionMain(paths)
    } finally {
      process.stdout.write = write
    }
    return out
  }

  it("builds a minor newer than the version table on its release day: the newest row's containerd rule, kubeadm's own API and images, the older crictl", async () => {
    // the host's containerd 1.6.20 meets no rule of 1.37, the newest row, so 1.38 gets the action's own
    Object.assign(process.env, { SHIM_CONTAINERD_VERSION: '1.6.20', SHIM_KUBEADM_VERSION: 'v1.38.0' })
    try {
      inputs({ 'kubernetes-version': 'v1.38.0' })
      await actionMain(paths)
      const summary = await readFile(sb.files.summary, 'utf8')
      assert.equal(process.exitCode, undefined, summary)
      assert.match(summary, /Kubernetes v1\.38\.0 is newer than this action's version table \(newest 1\.37\), so the plan assumes 1\.37's rules: containerd 2\.3\.0\+ or 2\.2\.0\+/)
      const hits = server.hits
      assert.ok(hits.includes('/gh/kubernetes-sigs/cri-tools/releases/download/v1.38.0/crictl-v1.38.0-linux-amd64.tar.gz.sha256'), 'the minor\'s own crictl is asked for first')
      assert.ok(hits.includes('/gh/kubernetes-sigs/cri-tools/releases/download/v1.37.0/crictl-v1.37.0-linux-amd64.tar.gz'), 'then the next older one')
      assert.ok(hits.includes('/gh/containerd/containerd/releases/download/v2.2.1/containerd-2.2.1-linux-amd64.tar.gz'), "the action's own containerd")
      const [init, cluster] = parseAllDocuments(await placed(join(paths.stateDir, 'kubeadm.yaml'))).map((d) => d.toJS())
      assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta4')
      assert.equal(cluster.kubernetesVersion, 'v1.38.0')
      const cmds = await commands()
      assert.ok(cmds.some((c) => / images pull --local .*registry\.k8s\.io\/etcd:3\.7\.0-0$/.test(c)), 'the images kubeadm listed are pulled')
      assert.ok(cmds.findIndex((c) => c.endsWith('kubeadm config print init-defaults')) >= 0)
    } finally {
      delete process.env.SHIM_CONTAINERD_VERSION
      delete process.env.SHIM_KUBEADM_VERSION
    }
  })

  it('writes the configuration in the newest API it knows when kubeadm defaults to a newer one, and says so', async () => {
    Object.assign(process.env, { SHIM_KUBEADM_API: 'kubeadm.k8s.io/v1beta5' })
    const write = process.stdout.write.bind(process.stdout)
    let log = ''
    process.stdout.write = ((chunk: string | Uint8Array) => ((log += String(chunk)), true)) as typeof process.stdout.write
    try {
      inputs()
      await actionMain(paths)
    } finally {
      process.stdout.write = write
      delete process.env.SHIM_KUBEADM_API
    }
    assert.equal(process.exitCode, undefined, await readFile(sb.files.summary, 'utf8'))
    const [init] = parseAllDocuments(await placed(join(paths.stateDir, 'kubeadm.yaml'))).map((d) => d.toJS())
    assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta4')
    assert.match(log, /::warning::kubeadm's default configuration API is kubeadm\.k8s\.io\/v1beta5, newer than this action knows: the configuration is written in kubeadm\.k8s\.io\/v1beta4, which kubeadm still reads\./)
  })

  it('builds with a kubeadm-config file and feature-gates merged into the kubeadm configuration kubeadm init reads', async () => {
    const file = join(root, 'kubeadm-patch.yaml')
    await writeFile(file, 'kind: ClusterConfiguration\nnetworking:\n  dnsDomain: ci.local\n---\nkind: KubeletConfiguration\nmaxPods: 50\n')
    inputs({ 'kubeadm-config': file, 'feature-gates': 'InPlacePodVerticalScaling=true' })
    await actionMain(paths)
    assert.equal(process.exitCode, undefined, await readFile(sb.files.summary, 'utf8'))
    const [, cluster, kubelet] = parseAllDocuments(await placed(join(paths.stateDir, 'kubeadm.yaml'))).map((d) => d.toJS())
    assert.deepEqual(cluster.networking, { podSubnet: '10.32.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'ci.local' })
    assert.deepEqual(cluster.controllerManager.extraArgs, [{ name: 'feature-gates', value: 'InPlacePodVerticalScaling=true' }])
    assert.deepEqual(kubelet, { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd', maxPods: 50, featureGates: { InPlacePodVerticalScaling: true } })
    assert.ok((await commands()).some((c) => c.endsWith(`kubeadm init --config ${join(paths.stateDir, 'kubeadm.yaml')} --skip-token-print`)))
  })

  it('refuses kubeadm-config that clashes with an input before changing anything, naming both inputs', async () => {
    inputs({ 'kubeadm-config': 'kind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.50.0.0/16\n' })
    const out = await captured()
    assert.equal(process.exitCode, 1)
    assert.match(out, /::error::Inputs 'kubeadm-config' and 'pod-network-cidr' conflict: document 1 \(ClusterConfiguration\) makes networking\.podSubnet "10\.50\.0\.0\/16", but 'pod-network-cidr' gives "10\.32\.0\.0\/16"/)
    assert.match(out, /Nothing on this host was changed/)
    assert.deepEqual(onlyProbes(await commands()), [])
    assert.equal(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'], 'none', 'no record: only main\'s first save')
  })

  it('refuses a host where an earlier cluster is still up, before changing anything', async () => {
    await mkdir(join(paths.adminConf, '..'), { recursive: true })
    await writeFile(paths.adminConf, 'apiVersion: v1\n')
    inputs()
    await actionMain(paths)
    assert.equal(process.exitCode, 1)
    assert.deepEqual(onlyProbes(await commands()), [])
    assert.equal(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'], 'none', 'no record: only main\'s first save')
  })

  /** The release as files (what a file:// URL serves) and a docker-save archive declaring `images`, under the sandbox. */
  const offlinePieces = async (images: string[]): Promise<{ release: string; gh: string; archive: string }> => {
    const dir = join(sb.dir, 'offline')
    for (const [path, route] of Object.entries(routes)) {
      if (typeof route === 'function' || path === '/') continue
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), route.body)
    }
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: images, Layers: [] }]))
    execFileSync('tar', ['-cf', join(dir, 'images.tar'), '-C', dir, 'manifest.json'])
    // the host packages are installed already (this machine may lack them; apt-get is not offline)
    for (const b of ['conntrack', 'socat', 'ebtables', 'ethtool']) await writeFile(join(sb.shimDir, b), '#!/bin/sh\n', { mode: 0o755 })
    return { release: pathToFileURL(join(dir, 'release')).href, gh: pathToFileURL(join(dir, 'gh')).href, archive: join(dir, 'images.tar') }
  }

  it('offline: builds from image-archives and files on this machine, pulling and fetching nothing', async () => {
    const p = await offlinePieces(ALL_IMAGES)
    server.hits.length = 0
    inputs({ offline: 'true', 'kubernetes-release-url': p.release, 'github-url': p.gh, 'image-archives': p.archive })
    await actionMain(paths)
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.equal(process.exitCode, undefined, summary)
    const cmds = await commands()
    assert.deepEqual(cmds.filter((c) => / images pull (?!--help)/.test(c) || /^apt-get/.test(c)), [], 'nothing pulled, nothing installed with apt-get')
    assert.ok(cmds.some((c) => / images import --local .*images\.tar$/.test(c)), cmds.join('\n'))
    // the only request to the loopback server is the smoke test's, to "nginx"
    assert.deepEqual(server.hits.filter((h) => h !== '/'), [])
    assert.equal(await placed(join(paths.binDir, 'kubelet')), (routes['/release/v1.34.2/bin/linux/amd64/kubelet'] as { body: string }).body)
    assert.match(summary, /10 imported/)
  })

  it('offline: a missing piece stops the run before anything changes, every one named with its input', async () => {
    const p = await offlinePieces(ALL_IMAGES.filter((i) => !/etcd|nginx/.test(i)))
    const before = await snapshot(root)
    inputs({ offline: 'true', 'kubernetes-release-url': p.release, 'github-url': 'https://github.com', 'image-archives': p.archive })
    await actionMain(paths)
    assert.equal(process.exitCode, 1)
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.match(summary, /This host cannot run the cluster; nothing was changed/)
    assert.match(summary, /Input 'github-url' has the value "https:\/\/github\.com", which is not on this machine, and 'offline' is true: crictl, cni-plugins, the flannel manifest v0\.28\.9 would be downloaded from it/)
    assert.match(summary, /Image registry\.k8s\.io\/etcd:3\.6\.5-0 \(asked for by kubeadm\) is in none of the archives of input 'image-archives'/)
    assert.match(summary, /Image docker\.io\/library\/nginx:stable-alpine \(asked for by smoke-test-image\)/)
    assert.deepEqual(onlyProbes(await commands()), [])
    assert.equal(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'], 'none', 'no ledger: nothing to undo')
    assert.deepEqual(diffSnapshots(before, await snapshot(root)), [], 'the host tree is as it was')
  })

  it('times out with what was not ready and why', async () => {
    inputs({ timeout: '2s', 'smoke-test': 'false' })
    // a kubectl whose node never becomes Ready
    const shimKubectl = join(sb.shimDir, 'kubectl')
    await rm(shimKubectl)
    await writeFile(
      shimKubectl,
      `#!/usr/bin/env bash
echo "kubectl $*" >> "$SHIM_LOG"
case "$*" in
  "get nodes -o json") echo '{"items":[{"metadata":{"name":"n1"},"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"container runtime network not ready: cni plugin not initialized"}]}}]}' ;;
  "get pods -A -o json") echo '{"items":[{"metadata":{"namespace":"kube-flannel","name":"kube-flannel-ds-x"},"status":{"phase":"Pending","initContainerStatuses":[{"state":{"waiting":{"reason":"ImagePullBackOff"}}}]}}]}' ;;
  "get events -A -o json") echo '{"items":[{"metadata":{"namespace":"kube-flannel"},"involvedObject":{"kind":"Pod","name":"kube-flannel-ds-x"},"reason":"Failed","message":"toomanyrequests","lastTimestamp":"2026-11-25T17:00:00Z"}]}' ;;
esac
`
    )
    await chmod(shimKubectl, 0o755)
    await actionMain(paths)
    assert.equal(process.exitCode, 1)
    const state = await record()
    assert.equal(state.failed.step, 'ready.cluster')
    assert.match(state.failed.message, /Timed out waiting for the node to become Ready/)
    assert.match(state.failed.message, /NotReady \(KubeletNotReady: container runtime network not ready/)
    assert.match(state.failed.message, /kube-flannel\/kube-flannel-ds-x: ImagePullBackOff/)
    assert.match(state.failed.message, /Pod\/kube-flannel-ds-x: Failed: toomanyrequests/)
  })
})
