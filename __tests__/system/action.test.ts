// The bundled action, main and post, run as a runner runs them, in a booted systemd machine
// dressed as a hosted runner: Docker under systemd with a job's service container, Docker's
// stock containerd config (CRI off), swap on, everything downloaded from a release mirror and
// every image pulled through a registry mirror inside the machine. kubeadm, kubelet and
// kubectl are stand-ins (standins/): no control plane can run here, so `kubeadm init` fails
// the way kubeadm fails when no kubelet comes up, and everything before it is real, crictl
// included (cri-tools' own, v1.36.0, served under the file name of the crictl each version
// downloads: serve.ts says why).
//
// Two hosts:
// - containerd 1.6.20 (Debian bookworm's, as Docker's) with Kubernetes v1.28.15, which it
//   supports: the action rewrites Docker's containerd config and restarts it under Docker;
// - the same containerd with Kubernetes v1.34.2, which needs 1.6.39+: the action runs its
//   own containerd beside it (Debian sid's containerd 2.1.9 binaries, packed under the
//   pinned release's file name, stand for containerd's release tarball).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it as test } from 'node:test'
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml'
import { criClient, installRuncWithoutLimits, RUNC_WITHOUT_LIMITS } from './cri.js'
import { crictlMissing } from './cri-tools.js'
import { bootMachine, diffSnapshots, RUNNER, RUNNER_FILES, snapshot, systemAvailable, type Machine, type Release, type Snapshot } from './machine.js'
import { CONTAINERD2, inputs, prepareMachine, runStep, type Run } from './run-action.js'

const skip = systemAvailable() ?? crictlMissing() ?? (existsSync(join(CONTAINERD2, 'containerd')) ? undefined : `no containerd 2.x at ${CONTAINERD2} (scripts/fetch-containerd2.sh puts it there)`)
if (skip) console.log(`# SKIP the action in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

/** main, then post with the state main saved, as the runner hands it over. */
async function mainThenPost(
  m: Machine,
  env: Record<string, string>,
  whileUp: () => Promise<void> = async () => {}
): Promise<{ main: Run; post: Run; during: Snapshot; mainPid: Record<string, string>; verify: string }> {
  await m.resetRunnerFiles()
  const main = await runStep(m, 'index', env)
  // each step with its time, for the report
  for (const l of main.out.split('\n')) if (/^[✓✗] \[/.test(l)) console.log(`# ${l}`)
  await whileUp()
  const during = await snapshot(m)
  // systemd's own reading of the kubelet unit the action installed
  const v = await m.exec(['systemd-analyze', 'verify', '/etc/systemd/system/kubelet.service'])
  const verify = `exit ${v.code}${v.stderr.trim() ? `: ${v.stderr.trim()}` : ''}`
  const mainPid = Object.fromEntries(await Promise.all(['containerd', 'docker'].map(async (u) => [u, (await m.run(['systemctl', 'show', u, '-p', 'MainPID', '--value'])).trim()])))
  const state = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]))
  await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
  const post = await runStep(m, 'post', { ...env, ...state })
  return { main, post, during, mainPid, verify }
}

/**
 * A pod sandbox and a busybox httpd container from the preloaded nginx image, through CRI,
 * on the config the action wrote, with the two settings this machine (not a runner) needs
 * layered on: restrict_oom_score_adj (no CAP_SYS_RESOURCE here) and a runc wrapper that drops
 * cgroup limits (no cpu or memory controller here). The action's file is put back byte for
 * byte afterwards, and containerd restarted on it. Returns what the container served.
 */
async function podOnTheActionsConfig(m: Machine): Promise<string> {
  const path = '/etc/containerd/config.toml'
  const original = await m.readFile(path)
  const cfg = parseToml(original) as any
  const criPlugin = cfg.plugins['io.containerd.grpc.v1.cri']
  assert.equal(criPlugin.containerd.runtimes.runc.options.SystemdCgroup, true)
  criPlugin.restrict_oom_score_adj = true
  criPlugin.containerd.runtimes.runc.options.BinaryName = await installRuncWithoutLimits(m)
  const cri = criClient(m)
  const restart = async (): Promise<void> => {
    await m.run(['systemctl', 'restart', 'containerd'])
    for (let i = 0; ; i++) {
      try {
        return void (await cri.runtime('Version', { version: 'v1' }, 2000))
      } catch (err) {
        if (i > 100) throw err
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }
  try {
    await m.writeFile(path, stringifyToml(cfg))
    await restart()
    const config = { metadata: { name: 'ksn-pod', uid: 'uid-ksn-pod', namespace: 'default' }, logDirectory: '/var/log/pods/default_ksn-pod', linux: { cgroupParent: 'kubepods-besteffort-poduid_ksn.slice', securityContext: { namespaceOptions: { network: 2, pid: 1 } } } }
    const podSandboxId = (await cri.runtime('RunPodSandbox', { config }, 60_000)).podSandboxId
    try {
      const image = 'docker.io/library/nginx:stable-alpine'
      const containerId = (
        await cri.runtime('CreateContainer', { podSandboxId, sandboxConfig: config, config: { metadata: { name: 'web' }, image: { image }, command: ['/bin/busybox', 'httpd', '-f', '-p', '8089', '-h', '/www'], logPath: 'web.log', linux: { securityContext: { namespaceOptions: { network: 2, pid: 1 } } } } }, 60_000)
      ).containerId
      await cri.runtime('StartContainer', { containerId }, 60_000)
      return (await m.run(['curl', '-fsS', '--retry', '10', '--retry-connrefused', '--retry-delay', '1', 'http://127.0.0.1:8089/'])).trim()
    } finally {
      await cri.runtime('StopPodSandbox', { podSandboxId }, 60_000)
      await cri.runtime('RemovePodSandbox', { podSandboxId }, 60_000)
    }
  } finally {
    await m.writeFile(path, original)
    await restart()
    cri.close()
    await m.run(['rm', '-f', RUNC_WITHOUT_LIMITS])
  }
}

describe('the bundled action in a booted machine dressed as a hosted runner', { timeout: 1_200_000 }, () => {
  describe("Docker's own containerd, supported for the version: configured for CRI and restarted under Docker", () => {
    let m: Machine
    let release: Release
    let before0: Snapshot
    let first: Awaited<ReturnType<typeof mainThenPost>>
    let pod: string
    const pids: Record<string, string> = {}

    before(
      async () => {
        if (skip) return
        m = await bootMachine({ name: 'hosted', log: (l) => console.log(`# ${l}`) })
        release = await prepareMachine(m, 'v1.28.15')
        for (const u of ['containerd', 'docker']) pids[u] = (await m.run(['systemctl', 'show', u, '-p', 'MainPID', '--value'])).trim()
        pids.service = (await m.run(['docker', 'inspect', '-f', '{{.State.StartedAt}}', RUNNER.serviceContainer])).trim()
        before0 = await snapshot(m)
        first = await mainThenPost(m, inputs(release, { 'kubernetes-version': 'v1.28.15' }), async () => {
          pod = await podOnTheActionsConfig(m)
        })
      },
      { timeout: 900_000 }
    )
    after(async () => m?.shutdown())

    it('runs every step up to kubeadm init for real, then fails with kubeadm\'s own words and says the host is partly configured', async () => {
      const { main } = first
      assert.equal(main.code, 1, main.out)
      assert.match(main.out, /::error::init: kubeadm init v1\.28\.15 failed: .*error execution phase wait-control-plane/s)
      assert.match(main.out, /The host is partly configured: \d+ changes recorded \(steps done: .*images\.preload/s)
      for (const step of ['host.swap', 'host.kernel', 'binaries.kubelet-unit', 'config.images', 'runtime.configure', 'runtime.ready', 'images.preload']) assert.match(main.out, new RegExp(`✓ \\[${step.split('.')[0]}\\]`), step)
    })

    it('left the files, modes and units the README names while the cluster was being built', async () => {
      const d = first.during
      for (const b of ['kubeadm', 'kubelet', 'kubectl', 'crictl']) assert.match(d.files[`/usr/local/bin/${b}`] ?? '', /^file 0755 0:0/, b)
      for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) assert.match(d.files[`/opt/cni/bin/${p}`] ?? '', /^file 0755 0:0/, p)
      assert.equal(d.files['/opt/cni/bin/README.md'], undefined, 'only the plugins land in /opt/cni/bin')
      assert.match(d.files['/etc/kubeadm-single-node/kubeadm.yaml'] ?? '', /^file 0600 0:0/)
      assert.match(d.files['/etc/containerd/config.toml'] ?? '', /^file 0644 0:0/)
      assert.ok(d.enabledUnits.includes('kubelet.service'), `kubelet enabled: ${d.enabledUnits.join(' ')}`)
      assert.deepEqual(d.containers, before0.containers, "the job's service container kept running")
    })

    it('restarted containerd under systemd with CRI on and every image in k8s.io, pulled through the mirror, while Docker kept its containers', async () => {
      // a second run's state would differ: these are read during the first run's main, before post undid it
      assert.notEqual(first.mainPid.containerd, pids.containerd, 'containerd was restarted')
      assert.equal(first.mainPid.docker, pids.docker, 'dockerd was reloaded, not restarted')
      assert.match(first.main.out, /containerd 1\.6\.20\S* serves CRI/)
      assert.match(first.main.out, /pulled registry\.k8s\.io\/kube-apiserver:v1\.28\.15/)
      assert.match(first.main.out, /pulled docker\.io\/library\/nginx:stable-alpine/)
      assert.equal((await m.run(['docker', 'inspect', '-f', '{{.State.StartedAt}}', RUNNER.serviceContainer])).trim(), pids.service, 'the service container was never restarted')
      assert.equal((await m.run(['docker', 'run', '--rm', RUNNER.baseImage, '/bin/busybox', 'echo', 'still works'])).trim(), 'still works')
    })

    it("runs a pod through CRI on the action's containerd config (with this machine's two workarounds layered on)", async () => {
      assert.equal(pod, 'docker.io/library/nginx:stable-alpine', 'the preloaded image answered from a pod sandbox under the systemd cgroup driver')
    })

    it('installed a kubelet unit systemd-analyze has nothing to say about', async () => {
      assert.equal(first.verify, 'exit 0')
    })

    it("post printed the kubelet's and containerd's journals and the hints, then undid every change", async () => {
      const { post } = first
      assert.equal(post.code, 0, post.out)
      assert.match(post.out, /::group::Diagnostics/)
      assert.match(post.out, /### kubelet journal/)
      assert.match(post.out, /### containerd journal/)
      assert.match(post.out, /::group::Cleanup: \d+ changes undone\n/)
      assert.doesNotMatch(post.out, /FAILED:/)
      assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [], 'the host is as it was before the run')
    })

    it('a second run on the same machine behaves exactly like the first (a self-hosted runner\'s next job)', async () => {
      const second = await mainThenPost(m, inputs(release, { 'kubernetes-version': 'v1.28.15' }))
      assert.equal(second.main.code, 1)
      assert.match(second.main.out, /error execution phase wait-control-plane/)
      assert.equal(second.post.code, 0)
      assert.doesNotMatch(second.post.out, /FAILED:/)
      assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [])
    })

    it('a dry run and a run with a bad input change nothing', async () => {
      const dry = await runStep(m, 'index', inputs(release, { 'kubernetes-version': 'v1.28.15', 'dry-run': 'true' }))
      assert.equal(dry.code, 0, dry.out)
      assert.match(dry.out, /::group::Plan \(dry run/)
      const bad = await runStep(m, 'index', inputs(release, { 'kubernetes-version': 'v1.28.15', 'pod-network-cidr': '10.244.0.0/26' }))
      assert.equal(bad.code, 1)
      assert.match(bad.out, /Input 'pod-network-cidr'/)
      assert.match(bad.out, /Nothing on this host was changed/)
      assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [])
    })
  })

  describe("a containerd too old for the version: the action's own containerd beside it", () => {
    let m: Machine
    let release: Release
    let before0: Snapshot
    let run: Awaited<ReturnType<typeof mainThenPost>>
    let hostContainerd: string

    before(
      async () => {
        if (skip) return
        m = await bootMachine({ name: 'self-hosted', log: (l) => console.log(`# ${l}`) })
        release = await prepareMachine(m, 'v1.34.2')
        hostContainerd = (await m.run(['systemctl', 'show', 'containerd', '-p', 'MainPID', '--value'])).trim()
        before0 = await snapshot(m)
        run = await mainThenPost(m, inputs(release, { 'kubernetes-version': 'v1.34.2' }))
      },
      { timeout: 900_000 }
    )
    after(async () => m?.shutdown())

    it("serves CRI from its own unit and socket, leaves Docker's containerd and config alone, and undoes it all", async () => {
      const { main, post, during } = run
      assert.equal(main.code, 1, main.out)
      assert.match(main.out, /this host has containerd 1\.6\.20: the action runs its own containerd 2\.2\.1/)
      assert.match(main.out, /containerd 2\.1\.9\S* serves CRI/, 'the binaries standing for the release answer')
      assert.match(main.out, /error execution phase wait-control-plane/)
      assert.equal(during.files['/etc/containerd/config.toml'], before0.files['/etc/containerd/config.toml'], "Docker's containerd config is untouched")
      assert.equal(run.mainPid.containerd, hostContainerd, "Docker's containerd was not restarted")
      assert.ok(during.enabledUnits.includes('kubeadm-single-node-containerd.service'), during.enabledUnits.join(' '))
      assert.match(during.files['/etc/kubeadm-single-node/containerd/config.toml'] ?? '', /^file 0644 0:0/)
      assert.deepEqual(during.containers, before0.containers)
      assert.equal(post.code, 0, post.out)
      assert.match(post.out, /### kubeadm-single-node-containerd journal/)
      assert.doesNotMatch(post.out, /FAILED:/)
      assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [])
      assert.equal((await m.exec(['systemctl', 'is-active', 'kubeadm-single-node-containerd'])).stdout.trim(), 'inactive')
    })
  })
})
