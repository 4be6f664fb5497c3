// A self-hosted runner's next job, in a booted systemd machine: the bundled action runs three
// times on the same machine, as three jobs (fresh Actions files and state each time, the same
// host and the same runner user). kubeadm and kubectl are stand-ins (standins/), so each
// `kubeadm init` fails the way kubeadm fails with no kubelet, and everything before it is
// real: files, units, containerd restarted under systemd, images pulled through the mirror.
//   1. cleanup: false: the post step leaves every change, and the ledger stays on the host;
//   2. on-existing left at fail: refused before anything changes, naming that ledger;
//   3. on-existing: reset: the first job's ledger is replayed, the host read again, the
//      cluster built again; its cleanup then leaves the machine as it was before job 1.
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { after, before, describe, it as test } from 'node:test'
import { HOST_PATHS } from '../../src/host/paths.js'
import { inputEnv, parseCommandFile } from '../helpers/runner.js'
import { crictlMissing } from './cri-tools.js'
import { bootMachine, copyIn, diffSnapshots, pushImage, REPO, RUNNER, RUNNER_FILES, runnerEnv, serveRelease, snapshot, standins, startRegistry, systemAvailable, type Machine, type Release, type Snapshot } from './machine.js'

const skip = systemAvailable() ?? crictlMissing()
if (skip) console.log(`# SKIP re-runs in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

const ACTION = '/home/runner/work/_actions/org/kubeadm-single-node/v1'
const MIRROR = 'http://127.0.0.1:5000'
const VERSION = 'v1.28.15'
// the host's ledger: root's, in a 0700 directory of root's (src/io/host-ledger.ts)
const LEDGER = HOST_PATHS.ledgerFile

interface Run {
  code: number
  out: string
  state: Record<string, string>
}

async function runStep(m: Machine, entry: 'index' | 'post', env: Record<string, string>): Promise<Run> {
  const r = await m.exec(['node', `${ACTION}/dist/${entry}.js`], { user: 'runner', env: runnerEnv({ RUNNER_ENVIRONMENT: 'self-hosted', ...env }), timeoutMs: 300_000 })
  return { code: r.code, out: r.stdout + r.stderr, state: parseCommandFile(await m.readFile(RUNNER_FILES.state).catch(() => '')) }
}

/** One job: main, then post with the state main saved, each job with fresh Actions files. */
async function job(m: Machine, release: Release, extra: Record<string, string>): Promise<{ main: Run; post: Run; during: Snapshot }> {
  await m.resetRunnerFiles()
  const inputs = inputEnv({
    'kubernetes-version': VERSION,
    'kubernetes-release-url': release.kubernetesReleaseUrl,
    'github-url': release.githubUrl,
    'registry-mirrors': ['registry.k8s.io', 'ghcr.io', 'docker.io'].map((r) => `${r}=${MIRROR}`).join('\n'),
    timeout: '1m',
    ...extra
  })
  const main = await runStep(m, 'index', inputs)
  for (const l of main.out.split('\n')) if (/^[✓✗] \[|on-existing/.test(l)) console.log(`# ${l}`)
  const during = await snapshot(m)
  const state = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]))
  await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
  const post = await runStep(m, 'post', { ...inputs, ...state })
  return { main, post, during }
}

describe('re-runs on one self-hosted machine (on-existing)', { timeout: 1_500_000 }, () => {
  let m: Machine
  let release: Release
  let before0: Snapshot
  let first: Awaited<ReturnType<typeof job>>
  let afterFirst: Snapshot
  let firstLedger: string

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'rerun', log: (l) => console.log(`# ${l}`) })
      for (const f of ['index', 'post']) await copyIn(m, join(REPO, 'dist', `${f}.js`), `${ACTION}/dist/${f}.js`)
      release = await serveRelease(m, { version: VERSION })
      const s = await standins()
      await startRegistry(m)
      await m.writeFile('/tmp/ksn-kubeadm', s.kubeadm, { mode: 0o755 })
      await m.writeFile('/tmp/ksn-kubeadm.yaml', `kind: ClusterConfiguration\nkubernetesVersion: ${VERSION}\n`)
      const kubeadmImages = (await m.run(['/tmp/ksn-kubeadm', 'config', 'images', 'list', '--config', '/tmp/ksn-kubeadm.yaml'])).trim().split('\n')
      await m.run(['rm', '-f', '/tmp/ksn-kubeadm', '/tmp/ksn-kubeadm.yaml', '/var/log/ksn-standins.log'])
      for (const image of [...kubeadmImages, 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'ghcr.io/flannel-io/flannel:v0.28.9', 'docker.io/library/nginx:stable-alpine']) await pushImage(m, image)
      before0 = await snapshot(m)
      first = await job(m, release, { cleanup: 'false' })
      afterFirst = await snapshot(m)
      firstLedger = await m.readFile(LEDGER)
    },
    { timeout: 900_000 }
  )
  after(async () => m?.shutdown())

  it("job 1 (cleanup: false) leaves its changes, and its ledger on the host, root's", async () => {
    assert.equal(first.main.code, 1, first.main.out)
    assert.match(first.main.out, /error execution phase wait-control-plane/)
    assert.match(first.post.out, /Cleanup is off .*host changes stay/)
    assert.ok(afterFirst.enabledUnits.includes('kubelet.service'))
    assert.match(afterFirst.files['/etc/kubeadm-single-node/kubeadm.yaml'] ?? '', /^file 0600 0:0/)
    const record = JSON.parse(firstLedger)
    assert.ok(record.changes.length > 30, `${record.changes.length} changes kept on the host`)
    assert.equal((await m.run(['stat', '-c', '%U %a', LEDGER])).trim(), 'root 600')
    assert.equal((await m.run(['stat', '-c', '%U %a', dirname(LEDGER)])).trim(), 'root 700')
  })

  it('job 2 (on-existing left at fail) is refused before it changes anything', async () => {
    const second = await job(m, release, { cleanup: 'true' })
    assert.equal(second.main.code, 1)
    assert.match(second.main.out, new RegExp(`An earlier run's \\d+ host changes are still recorded in ${LEDGER.replace(/\./g, '\\.')} and not undone, and input 'on-existing' is 'fail'`))
    assert.match(second.post.out, /Nothing to diagnose or clean up/)
    assert.deepEqual(diffSnapshots(afterFirst, await snapshot(m)), [], 'nothing changed, not even by its post step')
    assert.equal(await m.readFile(LEDGER), firstLedger, "job 1's ledger is untouched")
  })

  it('job 3 (on-existing: reset) undoes job 1, builds again, and its cleanup leaves the machine as before job 1', async () => {
    const third = await job(m, release, { cleanup: 'true', 'on-existing': 'reset' })
    assert.equal(third.main.code, 1, third.main.out)
    assert.match(third.main.out, /on-existing: reset: undoing the earlier run's \d+ recorded host changes/)
    assert.doesNotMatch(third.main.out, /FAILED:/)
    assert.match(third.main.out, /on-existing: reset done; Kubernetes v1\.28\.15/)
    assert.match(third.main.out, /error execution phase wait-control-plane/, 'built again up to kubeadm init')
    assert.ok(third.during.enabledUnits.includes('kubelet.service'))
    assert.equal(third.post.code, 0, third.post.out)
    assert.doesNotMatch(third.post.out, /FAILED:/)
    assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [], 'the machine is as it was before job 1')
    assert.equal((await m.exec(['test', '-e', LEDGER])).code, 1, 'no ledger is left')
  })
})
