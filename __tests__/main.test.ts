// The whole main step, in process, against a simulated host: downloads come from a
// loopback server (with real checksums and real tarballs), host commands are recording
// shims, and the "NodePort" is a loopback server answering like nginx. What this proves:
// the orchestration, ordering, outputs, summary and failure reporting. What it cannot:
// that a real kubeadm init succeeds (that needs a hosted runner; see the e2e workflow).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import * as core from '@actions/core'
import { parse as parseToml } from 'smol-toml'
import { parseAllDocuments } from 'yaml'
import { run } from '../src/main.js'
import { pathsUnder, type Paths } from '../src/paths.js'
import { serve, type Route, type TestServer } from './helpers/http.js'
import { inputEnv, parseCommandFile, sandbox, type Sandbox } from './helpers/runner.js'

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

async function tgz(dir: string, files: Record<string, string>): Promise<Buffer> {
  const src = await mkdtemp(join(dir, 'tgz-'))
  for (const [name, body] of Object.entries(files)) await writeFile(join(src, name), body, { mode: 0o755 })
  const out = join(dir, `${Math.random().toString(36).slice(2)}.tgz`)
  execFileSync('tar', ['-czf', out, '-C', src, ...Object.keys(files)])
  return readFile(out)
}

const FLANNEL = `kind: ConfigMap
apiVersion: v1
metadata: {name: kube-flannel-cfg, namespace: kube-flannel}
data:
  net-conf.json: |
    {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    spec:
      initContainers: [{name: install-cni-plugin, image: "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1"}]
      containers: [{name: kube-flannel, image: "ghcr.io/flannel-io/flannel:v0.28.4"}]
`

describe('main step against a simulated host', () => {
  let server: TestServer
  let sb: Sandbox
  let paths: Paths
  let routes: Record<string, Route>
  const savedEnv = { ...process.env }

  before(async () => {
    const work = await mkdtemp(join(tmpdir(), 'ksn-main-'))
    routes = {}
    const file = (path: string, body: string | Buffer): void => {
      routes[path] = { body }
      routes[`${path}.sha256`] = { body: `${sha(body)}  ${path.split('/').pop()}\n` }
    }
    for (const b of ['kubeadm', 'kubelet', 'kubectl']) file(`/release/v1.34.2/bin/linux/amd64/${b}`, `#!/bin/sh\necho fake ${b}\n`)
    file('/gh/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz', await tgz(work, { crictl: '#!/bin/sh\n' }))
    file('/gh/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz', await tgz(work, { bridge: 'b', 'host-local': 'h', loopback: 'l', portmap: 'p' }))
    routes['/gh/flannel-io/flannel/releases/download/v0.28.4/kube-flannel.yml'] = { body: FLANNEL }
    routes['/'] = { body: '<h1>Welcome to nginx!</h1>' }
    server = await serve(routes)
  })
  after(() => server.close())

  beforeEach(async () => {
    sb = await sandbox()
    // the host's layout under a temporary root; binaries are the recording shims
    paths = { ...pathsUnder(join(sb.dir, 'host')), binDir: sb.shimDir }
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
    Object.assign(process.env, sb.env, { SHIM_NODE_PORT: new URL(server.url).port })
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
  const placed = (p: string) => readFile(join(sb.root, p), 'utf8')

  it('builds the cluster: files, order, outputs, summary', async () => {
    inputs({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })
    await run(paths)
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.equal(process.exitCode, undefined, summary)

    const out = parseCommandFile(await readFile(sb.files.output, 'utf8'))
    assert.equal(out['kubernetes-version'], 'v1.34.2')
    assert.equal(out['node-name'], 'runnervm')
    assert.equal(out['node-ip'], '127.0.0.1')
    assert.equal(out['node-port'], new URL(server.url).port)
    assert.equal(out['nginx-url'], `http://127.0.0.1:${new URL(server.url).port}/`)
    assert.equal(out.kubeconfig, join(sb.env.HOME, '.kube/config'))
    const timings = JSON.parse(out.timings)
    for (const phase of ['host', 'binaries', 'runtime', 'images', 'init', 'network', 'ready', 'smoke', 'total']) assert.equal(typeof timings[phase], 'number', phase)
    assert.match(await readFile(sb.files.env, 'utf8'), /^KUBECONFIG<<.*\n.*\.kube\/config\n/m)
    assert.match(await readFile(sb.files.path, 'utf8'), new RegExp(sb.shimDir))
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
    assert.equal(await placed(join(paths.binDir, 'kubelet')), '#!/bin/sh\necho fake kubelet\n', 'the verified download is what was installed')
    assert.match(await placed(join(paths.systemdDir, 'kubelet.service.d/10-kubeadm.conf')), /ExecStart=\n/)
    assert.equal(await placed(join(paths.cniBinDir, 'portmap')), 'p')

    // the order that matters
    const cmds = await commands()
    const at = (re: RegExp): number => {
      const i = cmds.findIndex((c) => re.test(c))
      assert.ok(i >= 0, `no command matching ${re}:\n${cmds.join('\n')}`)
      return i
    }
    const lastPull = cmds.findLastIndex((c) => /^ctr .* images pull --local --hosts-dir /.test(c))
    assert.ok(at(/^systemctl restart containerd$/) < at(/^crictl --runtime-endpoint .* info$/))
    assert.ok(at(/^crictl --runtime-endpoint .* info$/) < at(/^ctr .* images pull/))
    assert.ok(lastPull < at(/^kubeadm init --config /))
    if (cmds.includes('swapoff -a')) assert.ok(at(/^swapoff -a$/) < at(/^kubeadm init/))
    assert.ok(at(/^kubeadm init/) < at(/^kubectl apply -f .*cni\.yaml$/))
    const pulled = cmds.filter((c) => / images pull --local/.test(c)).map((c) => c.split(' ').at(-1))
    assert.deepEqual(pulled.sort(), [
      'docker.io/library/nginx:stable-alpine',
      'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1',
      'ghcr.io/flannel-io/flannel:v0.28.4',
      'registry.k8s.io/coredns/coredns:v1.12.1',
      'registry.k8s.io/etcd:3.6.4-0',
      'registry.k8s.io/kube-apiserver:v1.34.2',
      'registry.k8s.io/kube-controller-manager:v1.34.2',
      'registry.k8s.io/kube-proxy:v1.34.2',
      'registry.k8s.io/kube-scheduler:v1.34.2'
    ], 'the pause image was present already and is not pulled again')
  })

  it('stops at a tampered download, installs nothing of it, and tells post what happened', async () => {
    routes['/release/v1.34.2/bin/linux/amd64/kubelet'] = { body: 'tampered' }
    try {
      inputs()
      await run(paths)
    } finally {
      routes['/release/v1.34.2/bin/linux/amd64/kubelet'] = { body: '#!/bin/sh\necho fake kubelet\n' }
    }
    assert.equal(process.exitCode, 1)
    const cmds = await commands()
    assert.equal(cmds.some((c) => /^install .* .*\/kubelet$/.test(c)), false, 'the tampered kubelet was never installed')
    assert.equal(cmds.some((c) => /^kubeadm init/.test(c)), false)
    const state = JSON.parse(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'])
    assert.equal(state.failed.step, 'binaries.kubelet')
    assert.match(state.failed.message, /Checksum mismatch for kubelet/)
    assert.ok(state.completed.includes('host.kernel'))
    const summary = await readFile(sb.files.summary, 'utf8')
    assert.match(summary, /kubeadm-single-node failed/)
    assert.match(summary, /<th>phase<\/th>/, 'a failure still reports what each phase took')
    assert.equal(typeof JSON.parse(parseCommandFile(await readFile(sb.files.output, 'utf8')).timings).binaries, 'number')
  })

  it('refuses a host where an earlier cluster is still up, before changing anything', async () => {
    await mkdir(join(paths.adminConf, '..'), { recursive: true })
    await writeFile(paths.adminConf, 'apiVersion: v1\n')
    inputs()
    await run(paths)
    assert.equal(process.exitCode, 1)
    assert.deepEqual((await commands()).filter((c) => c !== 'containerd --version'), [])
    assert.equal(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'], undefined)
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
    await run(paths)
    assert.equal(process.exitCode, 1)
    const state = JSON.parse(parseCommandFile(await readFile(sb.files.state, 'utf8'))['kubeadm-single-node'])
    assert.equal(state.failed.step, 'ready.cluster')
    assert.match(state.failed.message, /Timed out waiting for the node to become Ready/)
    assert.match(state.failed.message, /NotReady \(KubeletNotReady: container runtime network not ready/)
    assert.match(state.failed.message, /kube-flannel\/kube-flannel-ds-x: ImagePullBackOff/)
    assert.match(state.failed.message, /Pod\/kube-flannel-ds-x: Failed: toomanyrequests/)
  })
})
