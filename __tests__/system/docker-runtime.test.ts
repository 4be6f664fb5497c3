// container-runtime: docker, the bundled action's main and post, in a booted systemd machine
// dressed as a hosted runner (Docker under systemd with the runner's daemon.json: cgroupfs and
// cgroup-parent /actions_job, a job's service container running). cri-dockerd cannot be
// downloaded here: the mirror inside the machine serves a release archive holding a stand-in
// (standins/cri-dockerd), with the .sha256 a mirror on the machine keeps for it (the pinned
// digest binds only mirrors elsewhere), and the stand-in serves CRI's Version on the socket
// systemd hands it and asks the real Docker for its version. Real here: systemd loading,
// enabling and starting the action's cri-docker.socket and cri-docker.service (socket
// activation, fd://, Type=notify), the real dockerd restarted on the daemon.json the action
// writes (systemd cgroup driver, cgroup-parent as a slice), images pulled by Docker through the
// registry mirror and tagged, a `docker build` image found in place, and cleanup. kubeadm
// and kubelet are the usual stand-ins, crictl the real one: `kubeadm init` fails as it does without a
// control plane, and post undoes everything.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it as test } from 'node:test'
import { CRI_DOCKERD } from '../../src/runtimes/docker/release.js'
import { ALL_IMAGES } from '../helpers/facts.js'
import { inputEnv, parseCommandFile } from '../helpers/runner.js'
import { crictlMissing } from './cri-tools.js'
import {
  KUBEADM_IMAGES,
  REPO,
  RUNNER,
  RUNNER_FILES,
  STANDIN_DIR,
  bootMachine,
  copyIn,
  diffSnapshots,
  ensureBaseImage,
  pushImage,
  runnerEnv,
  packCriDockerd,
  serveRelease,
  snapshot,
  standinCalls,
  startRegistry,
  systemAvailable,
  type Machine,
  type Release,
  type Snapshot
} from './machine.js'

const skip = systemAvailable() ?? crictlMissing()
if (skip) console.log(`# SKIP container-runtime docker in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

const ACTION = '/home/runner/work/_actions/org/kubeadm-single-node/v1'
const MIRROR = 'http://127.0.0.1:5000'
const VERSION = 'v1.34.2'
const APP = 'ksn.test/app:ci'

interface StepRun {
  code: number
  out: string
  state: Record<string, string>
}

async function runStep(m: Machine, entry: 'index' | 'post', env: Record<string, string>): Promise<StepRun> {
  const r = await m.exec(['node', `${ACTION}/dist/${entry}.js`], { user: 'runner', env: runnerEnv(env), timeoutMs: 300_000 })
  return { code: r.code, out: r.stdout + r.stderr, state: parseCommandFile(await m.readFile(RUNNER_FILES.state).catch(() => '')) }
}

describe('container-runtime: docker, the bundled action in a booted machine', { timeout: 1_200_000 }, () => {
  let m: Machine
  let release: Release
  let before0: Snapshot
  let during: Snapshot
  let main: StepRun
  let post: StepRun
  const seen: Record<string, string> = {}
  const dockerInfo = async (): Promise<string> => (await m.run(['docker', 'info', '--format', '{{.CgroupDriver}} {{.ServerVersion}}'])).trim()

  before(
    async () => {
      if (skip) return
      // no swap: the host kernel's /proc/swaps is shared with other machines booted at the same time, and swap is not this test's subject
      m = await bootMachine({ name: 'docker-rt', swapMiB: false, log: (l) => console.log(`# ${l}`) })
      for (const f of ['index', 'post']) await copyIn(m, join(REPO, 'dist', `${f}.js`), `${ACTION}/dist/${f}.js`)
      release = await serveRelease(m, { version: VERSION })
      await startRegistry(m)
      for (const image of ALL_IMAGES) await pushImage(m, image)
      // the release archive, from the mirror on this machine, as the action downloads it
      const cd = CRI_DOCKERD.version
      await release.mirror.addWithSha256(`github/Mirantis/cri-dockerd/releases/download/v${cd}/cri-dockerd-${cd}.amd64.tgz`, await packCriDockerd(await readFile(join(STANDIN_DIR, 'cri-dockerd'))), 'sha256sum')
      // the workflow's own image, built in an earlier step
      await ensureBaseImage(m)
      await m.writeFile('/tmp/app/Dockerfile', 'FROM local/busybox:1\nCMD ["/bin/busybox", "sleep", "3600"]\n')
      await m.run(['docker', 'build', '-q', '-t', APP, '/tmp/app'], { env: { DOCKER_BUILDKIT: '0' } })
      await m.run(['rm', '-rf', '/tmp/app', '/var/log/ksn-standins.log'])
      seen.dockerBefore = await dockerInfo()
      before0 = await snapshot(m)

      const env = inputEnv({
        'kubernetes-version': VERSION,
        'container-runtime': 'docker',
        'kubernetes-release-url': release.kubernetesReleaseUrl,
        'github-url': release.githubUrl,
        'registry-mirrors': ['registry.k8s.io', 'ghcr.io', 'docker.io'].map((r) => `${r}=${MIRROR}`).join('\n'),
        'preload-images': APP,
        cleanup: 'true',
        timeout: '1m'
      })
      await m.resetRunnerFiles()
      main = await runStep(m, 'index', env)
      for (const l of main.out.split('\n')) if (/^[✓✗] \[|^::error::/.test(l)) console.log(`# ${l.slice(0, 400)}`)
      during = await snapshot(m)
      seen.dockerDuring = await dockerInfo()
      seen.daemonJson = await m.readFile('/etc/docker/daemon.json')
      seen.active = (await m.exec(['systemctl', 'is-active', 'cri-docker.socket', 'cri-docker.service'])).stdout.trim()
      seen.socket = (await m.run(['stat', '-c', '%a %U %G %F', '/run/cri-dockerd.sock'])).trim()
      const v = await m.exec(['systemd-analyze', 'verify', '/etc/systemd/system/cri-docker.socket', '/etc/systemd/system/cri-docker.service'])
      seen.verify = `exit ${v.code}${v.stderr.trim() ? `: ${v.stderr.trim()}` : ''}`
      seen.crictl = (await m.exec(['/usr/local/bin/crictl', '--runtime-endpoint', 'unix:///run/cri-dockerd.sock', 'version'])).stdout
      seen.images = (await m.run(['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).trim()
      seen.calls = (await standinCalls(m)).join('\n')
      const state = Object.fromEntries(Object.entries(main.state).map(([k, val]) => [`STATE_${k}`, val]))
      await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
      post = await runStep(m, 'post', { ...env, ...state })
    },
    { timeout: 900_000 }
  )
  after(async () => m?.shutdown())

  it('runs the runtime and image phases for real, then stops at kubeadm init (a stand-in)', async () => {
    assert.equal(main.code, 1, main.out)
    assert.match(main.out, /::error::init: kubeadm init v1\.34\.2 failed/)
    for (const title of ["cri-dockerd 0.3.26: Docker's CRI", "set Docker's cgroup driver to systemd (a restart), then start cri-dockerd", 'wait until cri-dockerd serves CRI']) assert.ok(main.out.includes(`✓ [runtime] ${title}`), title)
    assert.ok(main.out.includes('✓ [images] preload every image the cluster will ask for'))
    assert.match(main.out, /Docker 20\.10\.\S+ uses the cgroupfs cgroup driver/)
    assert.match(main.out, new RegExp(`cri-dockerd serves CRI for Docker ${seen.dockerBefore.split(' ')[1].replace(/[.+]/g, '\\$&')}`))
  })

  it('started cri-dockerd through its socket unit: fd://, the pause image kubeadm names, CNI; systemd has nothing to say about the units', async () => {
    assert.equal(seen.active, 'active\nactive')
    assert.equal(seen.socket, '660 root docker socket')
    assert.equal(seen.verify, 'exit 0')
    assert.match(seen.calls, /cri-dockerd --container-runtime-endpoint fd:\/\/ --pod-infra-container-image registry\.k8s\.io\/pause:3\.10\.1 --network-plugin=cni --cni-bin-dir \/opt\/cni\/bin --cni-conf-dir \/etc\/cni\/net\.d/)
    assert.match(seen.crictl, /RuntimeName:\s+docker/)
    assert.match(during.files['/usr/local/bin/cri-dockerd'] ?? '', /^file 0755 0:0/)
    for (const u of ['cri-docker.socket', 'cri-docker.service']) assert.ok(during.enabledUnits.includes(u), `${u} enabled: ${during.enabledUnits.join(' ')}`)
  })

  it("restarted the real dockerd on the systemd cgroup driver, the runner's cgroup-parent as a slice", async () => {
    assert.match(seen.dockerBefore, /^cgroupfs /)
    assert.match(seen.dockerDuring, /^systemd /)
    const json = JSON.parse(seen.daemonJson)
    assert.deepEqual(json['exec-opts'], ['native.cgroupdriver=systemd'])
    assert.equal(json['cgroup-parent'], 'actions_job.slice')
    assert.deepEqual(json['registry-mirrors'], [MIRROR])
  })

  it("put every image in Docker's store under the cluster's names, pulled through the mirror, and kept the docker build image", async () => {
    for (const image of [...KUBEADM_IMAGES, 'ghcr.io/flannel-io/flannel:v0.28.9']) assert.ok(seen.images.split('\n').includes(image.replace(/^docker\.io\/library\//, '')), `${image} in\n${seen.images}`)
    assert.match(main.out, /pulled registry\.k8s\.io\/kube-apiserver:v1\.34\.2/)
    assert.match(main.out, new RegExp(`already present: [^\\n]*${APP.replace(/\./g, '\\.')}`))
    assert.doesNotMatch(main.out, new RegExp(`pulled ${APP.replace(/\./g, '\\.')}`))
  })

  it("post printed cri-docker's journal and docker info, then undid every change; Docker is back on cgroupfs", async () => {
    assert.equal(post.code, 0, post.out)
    assert.match(post.out, /### cri-docker journal/)
    assert.match(post.out, /### docker info/)
    assert.doesNotMatch(post.out, /FAILED:/)
    assert.match(await dockerInfo(), /^cgroupfs /)
    assert.equal((await m.exec(['systemctl', 'is-active', 'cri-docker.socket'])).stdout.trim(), 'inactive')
    assert.equal((await m.exec(['test', '-e', '/run/cri-dockerd.sock'])).code, 1)
    // the one thing a restart of Docker cannot give back, as the README says: the job's service
    // container stopped, and with it its veth and that interface's sysctls
    const diff = diffSnapshots(before0, await snapshot(m))
    const veth = diff.filter((l) => /^- sysctl net\.ipv[46]\.(conf|neigh)\.veth[0-9a-f]+\./.test(l))
    assert.ok(veth.length > 0, 'the service container had a veth')
    assert.equal(new Set(veth.map((l) => /\.(veth[0-9a-f]+)\./.exec(l)![1])).size, 1, 'one interface: the service container\'s')
    assert.deepEqual(diff.filter((l) => !veth.includes(l)), [`- container ${RUNNER.serviceContainer}`])
  })
})
