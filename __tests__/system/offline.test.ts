// offline: true in a booted machine dressed as a hosted runner, with nothing to fetch from:
// its network is private (see machine.ts), no registry, release mirror or apt repository runs
// inside it, and the names a run would reach (dl.k8s.io, github.com, the registries) point at
// eth0's gateway, where a counting REJECT rule catches every TCP connection that tries to
// leave. The downloads are files (file:// URLs), the images docker-save archives built in the
// machine, the packages installed. kubeadm, kubelet and kubectl are the stand-ins
// (standins/), crictl the real one (serve.ts), so the run goes as far as `kubeadm init` and fails there with kubeadm's words.
//
// - A missing piece (two images, and github-url left at GitHub) stops the run before anything
//   changes, each piece named with its input; the host is as it was.
// - With every piece here, every step up to kubeadm init runs: binaries verified from files,
//   every image imported, none pulled, and not one connection leaves the machine.
// - The same for v1.34.2, which the machine's containerd 1.6.20 cannot serve: the action's own
//   containerd comes from a file under github-url too, and the images are imported into it.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { after, before, describe, it as test } from 'node:test'
import { CNI_PLUGINS_VERSION } from '../../src/config/defaults.js'
import { crictlVersion } from '../../src/config/kubernetes.js'
import { FLANNEL } from '../../src/cnis/flannel/plugin.js'
import { HOST_PATHS } from '../../src/host/paths.js'
import { privatePaths } from '../../src/runtimes/containerd/paths.js'
import { inputEnv, parseCommandFile } from '../helpers/runner.js'
import { crictlMissing } from './cri-tools.js'
import { CONTAINERD2, packContainerdRelease } from './run-action.js'
import {
  bootMachine,
  buildImage,
  copyIn,
  diffSnapshots,
  FLANNEL_MANIFEST,
  packCniPlugins,
  packCrictl,
  REPO,
  RUNNER,
  RUNNER_FILES,
  runnerEnv,
  snapshot,
  standinCalls,
  standins,
  STANDIN_LOG,
  systemAvailable,
  type Machine,
  type Snapshot
} from './machine.js'

const skip = systemAvailable() ?? crictlMissing()
if (skip) console.log(`# SKIP offline in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

const ACTION = '/home/runner/work/_actions/org/kubeadm-single-node/v1'
const VERSION = 'v1.28.15'
/** Debian sid's containerd 2.x binaries, standing for containerd's release tarball (as in action.test.ts) */
const FILES = '/srv/ksn-offline'
const RELEASE_URL = `file://${FILES}/k8s/release`
const GITHUB_URL = `file://${FILES}/github`
const ARCHIVES = { controlPlane: `${FILES}/images/control-plane.tar`, apps: `${FILES}/images/apps.tar` }
/**
 * Where a run would go if it went anywhere: each name answers with eth0's gateway, behind the
 * counting rule. The machine's own apt sources are added from its apt configuration at run time.
 */
const OUTSIDE = ['dl.k8s.io', 'cdn.dl.k8s.io', 'github.com', 'objects.githubusercontent.com', 'registry.k8s.io', 'ghcr.io', 'docker.io', 'registry-1.docker.io', 'index.docker.io']
/** Prints the host names the machine's apt sources name (loopback ones and addresses left out). */
const APT_HOSTS_SH = "grep -hoE 'https?://[A-Za-z0-9.-]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | sed -E 's#^https?://##' | grep -vE '^(localhost|[0-9.]+)$' | sort -u"
const EGRESS_CHAIN = 'KSN_EGRESS'

interface Run {
  code: number
  out: string
  state: Record<string, string>
}

async function runStep(m: Machine, entry: 'index' | 'post', env: Record<string, string>): Promise<Run> {
  const r = await m.exec(['node', `${ACTION}/dist/${entry}.js`], { user: 'runner', env: runnerEnv(env), timeoutMs: 300_000 })
  return { code: r.code, out: r.stdout + r.stderr, state: parseCommandFile(await m.readFile(RUNNER_FILES.state).catch(() => '')) }
}

const inputs = (extra: Record<string, string>, version = VERSION): Record<string, string> =>
  inputEnv({ 'kubernetes-version': version, offline: 'true', 'kubernetes-release-url': RELEASE_URL, 'github-url': GITHUB_URL, 'image-archives': `${ARCHIVES.controlPlane}\n${ARCHIVES.apps}`, cleanup: 'true', timeout: '1m', ...extra })

/** main, then post with what main saved, as the runner hands it over. */
async function mainThenPost(m: Machine, env: Record<string, string>, whileUp: () => Promise<void> = async () => {}): Promise<{ main: Run; post: Run; egress: number; calls: string[] }> {
  await m.resetRunnerFiles()
  await m.run(['rm', '-f', STANDIN_LOG])
  const main = await runStep(m, 'index', env)
  for (const l of main.out.split('\n')) if (/^[✓✗] \[/.test(l)) console.log(`# ${l}`)
  const egress = await egressCount(m)
  const calls = await standinCalls(m)
  await whileUp()
  const state = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]))
  await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
  const post = await runStep(m, 'post', { ...env, ...state })
  return { main, post, egress, calls }
}

/** TCP packets that tried to leave through eth0 since the counter was last zeroed. */
async function egressCount(m: Machine): Promise<number> {
  const out = await m.run(['iptables', '-L', EGRESS_CHAIN, '-v', '-x', '-n'])
  const rule = out.split('\n').find((l) => /REJECT|DROP/.test(l))
  assert.ok(rule, out)
  return Number(rule.trim().split(/\s+/)[0])
}

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

/** The downloads as files under FILES, laid out as the release bucket and GitHub's release paths. */
async function layDownloads(m: Machine, version = VERSION): Promise<void> {
  const put = async (rel: string, content: string | Buffer, sum?: 'bare' | 'sha256sum'): Promise<void> => {
    await m.writeFile(`${FILES}/${rel}`, content, { mode: 0o644 })
    if (sum) await m.writeFile(`${FILES}/${rel}.sha256`, sum === 'bare' ? `${sha(content)}\n` : `${sha(content)}  ${rel.split('/').pop()}\n`, { mode: 0o644 })
  }
  const s = await standins()
  for (const b of ['kubeadm', 'kubelet', 'kubectl'] as const) await put(`k8s/release/${version}/bin/linux/amd64/${b}`, s[b], 'bare')
  const crictl = crictlVersion(Number(version.split('.')[1]))
  await put(`github/kubernetes-sigs/cri-tools/releases/download/${crictl}/crictl-${crictl}-linux-amd64.tar.gz`, await packCrictl(), 'sha256sum')
  await put(`github/containernetworking/plugins/releases/download/${CNI_PLUGINS_VERSION}/cni-plugins-linux-amd64-${CNI_PLUGINS_VERSION}.tgz`, await packCniPlugins(m), 'sha256sum')
  await put(`github/flannel-io/flannel/raw/${FLANNEL.version}/Documentation/kube-flannel.yml`, await readFile(FLANNEL_MANIFEST))
  if (existsSync(join(CONTAINERD2, 'containerd'))) {
    // containerd publishes <file>.sha256sum
    const { path: rel, tgz } = await packContainerdRelease()
    await put(rel, tgz)
    await m.writeFile(`${FILES}/${rel}.sha256sum`, `${sha(tgz)}  ${basename(rel)}\n`)
  }
  await m.run(['chmod', '-R', 'a+rX', FILES])
}

/** The images kubeadm (the stand-in, asked as the action asks it), flannel and the smoke test want, saved by Docker into two archives, then removed from Docker. */
async function layArchives(m: Machine, version = VERSION): Promise<{ controlPlane: string[]; apps: string[] }> {
  const s = await standins()
  await m.writeFile('/tmp/ksn-kubeadm', s.kubeadm, { mode: 0o755 })
  await m.writeFile('/tmp/ksn-kubeadm.yaml', `kind: ClusterConfiguration\nkubernetesVersion: ${version}\n`)
  const controlPlane = (await m.run(['/tmp/ksn-kubeadm', 'config', 'images', 'list', '--config', '/tmp/ksn-kubeadm.yaml'])).trim().split('\n')
  await m.run(['rm', '-f', '/tmp/ksn-kubeadm', '/tmp/ksn-kubeadm.yaml', STANDIN_LOG])
  const apps = [...FLANNEL.images, 'docker.io/library/nginx:stable-alpine']
  for (const image of [...controlPlane, ...apps]) await buildImage(m, image)
  await m.run(['mkdir', '-p', `${FILES}/images`])
  await m.run(['docker', 'save', '-o', ARCHIVES.controlPlane, ...controlPlane])
  await m.run(['docker', 'save', '-o', ARCHIVES.apps, ...apps])
  await m.run(['chmod', '0644', ARCHIVES.controlPlane, ARCHIVES.apps])
  await m.run(['docker', 'rmi', ...controlPlane, ...apps])
  return { controlPlane, apps }
}

/** Every name a run could reach points at the gateway; every TCP packet out of eth0 is rejected and counted. */
async function cutOff(m: Machine): Promise<void> {
  await m.sh(`printf '${RUNNER.gateway} %s\\n' ${OUTSIDE.join(' ')} $(${APT_HOSTS_SH}) >> /etc/hosts`)
  await m.run(['iptables', '-N', EGRESS_CHAIN])
  // REJECT answers at once; where the kernel has no REJECT target, DROP counts the same
  const reject = await m.exec(['iptables', '-A', EGRESS_CHAIN, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'])
  if (reject.code !== 0) await m.run(['iptables', '-A', EGRESS_CHAIN, '-p', 'tcp', '-j', 'DROP'])
  await m.run(['iptables', '-I', 'OUTPUT', '1', '-o', 'eth0', '-p', 'tcp', '-j', EGRESS_CHAIN])
}

describe('offline: true in a booted machine with no way out', { timeout: 1_200_000 }, () => {
  let m: Machine
  let before0: Snapshot
  let images: { controlPlane: string[]; apps: string[] }
  let control: { code: number; egress: number }
  let missing: Awaited<ReturnType<typeof mainThenPost>>
  let whole: Awaited<ReturnType<typeof mainThenPost>>
  let ctrImages: string[]

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'offline', log: (l) => console.log(`# ${l}`) })
      for (const f of ['index', 'post']) await copyIn(m, join(REPO, 'dist', `${f}.js`), `${ACTION}/dist/${f}.js`)
      await layDownloads(m)
      images = await layArchives(m)
      await cutOff(m)
      // the counter counts: a download from dl.k8s.io is caught there
      const c = await m.exec(['curl', '-sS', '-m', '5', '-o', '/dev/null', 'https://dl.k8s.io/release/stable.txt'])
      control = { code: c.code, egress: await egressCount(m) }
      await m.run(['iptables', '-Z', EGRESS_CHAIN])
      before0 = await snapshot(m)
      missing = await mainThenPost(m, inputs({ 'github-url': 'https://github.com', 'image-archives': ARCHIVES.controlPlane }))
      await m.run(['iptables', '-Z', EGRESS_CHAIN])
      whole = await mainThenPost(m, inputs({}))
      ctrImages = (await m.run(['ctr', '--namespace', 'k8s.io', 'images', 'list', '--quiet'])).trim().split('\n')
    },
    { timeout: 1_100_000 }
  )
  after(async () => m?.shutdown())

  it('has no way out: the names resolve to the gateway, and a connection there is caught and counted', async () => {
    assert.notEqual(control.code, 0)
    assert.ok(control.egress > 0, `the REJECT rule counted ${control.egress} packets from curl`)
    const units = await m.run(['systemctl', 'list-units', '--all', '--plain', '--no-legend', 'ksn-mirror-*', 'ksn-registry-*'])
    assert.equal(units.trim(), '', 'no release mirror and no registry runs in the machine')
  })

  it('a missing piece stops the run before anything changes, each named with the input that provides it', async () => {
    const { main, post, egress } = missing
    assert.equal(main.code, 1, main.out)
    assert.match(main.out, /This host cannot run the cluster; nothing was changed/)
    assert.match(main.out, /Input 'github-url' has the value "https:\/\/github\.com", which is not on this machine, and 'offline' is true: crictl, cni-plugins, the flannel manifest v0\.28\.9 would be downloaded from it/)
    for (const image of images.apps) assert.match(main.out, new RegExp(`Image ${image.replace(/[.]/g, '\\.')} \\(asked for by [^)]+\\) is in none of the archives of input 'image-archives'`))
    for (const image of images.controlPlane) assert.doesNotMatch(main.out, new RegExp(`Image ${image.replace(/[.]/g, '\\.')} `), 'what the archive brings is not named')
    assert.equal(main.state['kubeadm-single-node'], 'none', "no record: nothing was done, and only main's first save is there")
    assert.equal(post.code, 0, post.out)
    assert.equal(egress, 0, 'not one connection tried to leave')
    assert.deepEqual(missing.calls, [], 'no Kubernetes binary was installed, so none ran')
  })

  it('with every piece here, every step up to kubeadm init runs, from files and archives only, and not one connection tries to leave', async () => {
    const { main, egress } = whole
    assert.equal(main.code, 1, main.out)
    assert.match(main.out, /::error::init: kubeadm init v1\.28\.15 failed: .*error execution phase wait-control-plane/s)
    assert.match(main.out, /The host is partly configured: \d+ changes recorded \(steps done: .*images\.preload/s)
    assert.match(main.out, new RegExp(`verified kubeadm against ${RELEASE_URL}/${VERSION}/bin/linux/amd64/kubeadm\\.sha256`))
    assert.match(main.out, new RegExp(`verified crictl against ${GITHUB_URL}/kubernetes-sigs/cri-tools/`))
    assert.match(main.out, new RegExp(`imported ${ARCHIVES.controlPlane}: `))
    assert.doesNotMatch(main.out, /pulled |apt-get/)
    for (const image of [...images.controlPlane, ...images.apps]) assert.ok(ctrImages.includes(image), `${image} in k8s.io: ${ctrImages.join(' ')}`)
    assert.ok(whole.calls.some((l) => / kubeadm init /.test(l)), whole.calls.join('\n'))
    assert.deepEqual(whole.calls.filter((l) => / pull /.test(l)), [], 'kubeadm found every image and pulled none')
    assert.equal(egress, 0, 'not one connection tried to leave')
  })

  it('post undid every change, back to the host as it was before both runs', async () => {
    const { post } = whole
    assert.equal(post.code, 0, post.out)
    assert.match(post.out, /::group::Cleanup: \d+ changes undone\n/)
    assert.doesNotMatch(post.out, /FAILED:/)
    assert.deepEqual(diffSnapshots(before0, await snapshot(m)), [])
  })
})

// after the first machine is gone: swap is global to the kernel, and each machine's is /mnt/swapfile
describe("offline: true with a containerd too old for v1.34.2: the action's own containerd, from a file, with every image imported into it", { timeout: 1_200_000 }, () => {
  const ownSkip = skip ?? (existsSync(join(CONTAINERD2, 'containerd')) ? undefined : `no containerd 2.x at ${CONTAINERD2} (scripts/fetch-containerd2.sh puts it there)`)
  let m2: Machine
  let before2: Snapshot
  let own: Awaited<ReturnType<typeof mainThenPost>>
  let ownImages: string[]
  let wanted: string[]

  before(
    async () => {
      if (ownSkip) return
      m2 = await bootMachine({ name: 'offline-own', log: (l) => console.log(`# ${l}`) })
      for (const f of ['index', 'post']) await copyIn(m2, join(REPO, 'dist', `${f}.js`), `${ACTION}/dist/${f}.js`)
      await layDownloads(m2, 'v1.34.2')
      const laid = await layArchives(m2, 'v1.34.2')
      wanted = [...laid.controlPlane, ...laid.apps]
      await cutOff(m2)
      await m2.run(['iptables', '-Z', EGRESS_CHAIN])
      before2 = await snapshot(m2)
      own = await mainThenPost(m2, inputs({}, 'v1.34.2'), async () => {
        const ctr = join(privatePaths(HOST_PATHS).prefix, 'bin', 'ctr')
        ownImages = (await m2.run([ctr, '--address', join(privatePaths(HOST_PATHS).state, 'containerd.sock'), '--namespace', 'k8s.io', 'images', 'list', '--quiet'])).trim().split('\n')
      })
    },
    { timeout: 900_000 }
  )
  after(async () => m2?.shutdown())

  test('runs its own containerd from the file, imports every image into it, pulls nothing, reaches kubeadm init with no connection out, and undoes it all', { skip: ownSkip }, async () => {
    const { main, post, egress, calls } = own
    assert.equal(main.code, 1, main.out)
    assert.match(main.out, /this host has containerd 1\.6\.20: the action runs its own containerd 2\.2\.1/)
    assert.match(main.out, new RegExp(`verified containerd against ${GITHUB_URL}/containerd/containerd/releases/download/v2\\.2\\.1/containerd-2\\.2\\.1-linux-amd64\\.tar\\.gz\\.sha256sum`))
    assert.match(main.out, /error execution phase wait-control-plane/)
    assert.doesNotMatch(main.out, /pulled |apt-get/)
    for (const image of wanted) assert.ok(ownImages.includes(image), `${image} in the action's containerd: ${ownImages.join(' ')}`)
    assert.deepEqual(calls.filter((l) => / pull /.test(l)), [])
    assert.equal(egress, 0, 'not one connection tried to leave')
    assert.equal(post.code, 0, post.out)
    assert.doesNotMatch(post.out, /FAILED:/)
    assert.deepEqual(diffSnapshots(before2, await snapshot(m2)), [])
  })
})
