// Kubernetes 1.38 on its release day, in the booted machine: a minor newer than the action's
// version table, whose crictl cri-tools has not published yet. The kubeadm stand-in plays
// v1.38.0 (KSN_STANDIN_KUBEADM_VERSION); the release mirror serves crictl v1.36.0 only (the
// real one), so the run must fall back two minors; the host's containerd 1.6 meets no rule of
// the newest row, so the action must run its own containerd. As in the other runs, the stand-in
// kubeadm fails at wait-control-plane (no kubelet here), and the post step undoes the run.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, it as test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { HOST_PATHS } from '../../src/host/paths.js'
import { PRIVATE_UNIT } from '../../src/runtimes/containerd/unit.js'
import { crictlMissing } from './cri-tools.js'
import { bootMachine, RUNNER, RUNNER_FILES, systemAvailable, type Machine } from './machine.js'
import { CONTAINERD2, inputs, prepareMachine, runStep, type Run } from './run-action.js'

const skip = systemAvailable() ?? crictlMissing() ?? (existsSync(CONTAINERD2) ? undefined : `no ${CONTAINERD2}: run scripts/fetch-containerd2.sh (.ci/run does)`)
if (skip) console.log(`# SKIP release day in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

describe('Kubernetes v1.38.0 on its release day, in the booted machine', { timeout: 1_200_000 }, () => {
  let m: Machine
  let main: Run
  let post: Run
  let kubeadmYaml = ''
  let ownContainerdActive = ''

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'release-day', serviceContainer: false, log: (l) => console.log(`# ${l}`) })
      const release = await prepareMachine(m, 'v1.38.0', { crictl: 'v1.36.0' })
      await m.writeFile('/etc/ksn-standin-kubeadm', 'KSN_STANDIN_KUBEADM_VERSION=v1.38.0\n')
      await m.resetRunnerFiles()
      const env = inputs(release, { 'kubernetes-version': 'v1.38.0' })
      main = await runStep(m, 'index', env)
      kubeadmYaml = await m.readFile('/etc/kubeadm-single-node/kubeadm.yaml').catch(() => '')
      ownContainerdActive = (await m.exec(['systemctl', 'is-active', PRIVATE_UNIT])).stdout.trim()
      const state = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]))
      await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
      post = await runStep(m, 'post', { ...env, ...state })
    },
    { timeout: 1_100_000 }
  )
  after(() => m?.shutdown())

  it('says which rules it assumed, and takes the newest row\'s containerd rule: its own containerd beside the host\'s 1.6', async () => {
    assert.match(main.out, /Kubernetes v1\.38\.0 is newer than this action's version table \(newest 1\.37\), so the plan assumes 1\.37's rules/)
    assert.match(main.out, /this host has containerd 1\.6\.\d+: the action runs its own containerd/)
    assert.equal(ownContainerdActive, 'active')
  })

  it('falls back to the newest published crictl, and says so', async () => {
    assert.match(main.out, /crictl v1\.36\.0: v1\.38\.0, the release for Kubernetes v1\.38\.0, is not published yet/)
  })

  it("writes kubeadm's configuration in the API kubeadm itself prints, for v1.38.0, and gets as far as kubeadm init", async () => {
    const [init, cluster] = parseAllDocuments(kubeadmYaml).map((d) => d.toJS())
    assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta4')
    assert.equal(cluster.kubernetesVersion, 'v1.38.0')
    assert.equal(main.code, 1, main.out)
    assert.match(main.out, /error execution phase wait-control-plane/, 'every image kubeadm named for v1.38.0 was there: preflight passed')
  })

  it('cleans up after itself', async () => {
    assert.equal(post.code, 0, post.out)
    assert.doesNotMatch(post.out, /FAILED:/)
    assert.equal((await m.exec(['test', '-e', HOST_PATHS.stateDir])).code, 1, `${HOST_PATHS.stateDir} is gone`)
  })
})
