// One run of the bundled action in a booted machine, as a runner runs it: its release mirror
// (stand-ins for kubeadm, kubelet and kubectl, the real crictl and CNI plugins, Debian sid's
// containerd 2.x standing for containerd's release tarball), its registry with the images a
// run pulls, its inputs passed as INPUT_* variables and its steps started as the runner user.
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { FLANNEL } from '../../src/cnis/flannel/plugin.js'
import { PRIVATE_CONTAINERD } from '../../src/runtimes/containerd/driver.js'
import { inputEnv, parseCommandFile } from '../helpers/runner.js'
import { copyIn, pushImage, REPO, RUNNER_FILES, runnerEnv, serveRelease, standins, startRegistry, type Machine, type Release } from './machine.js'

/** Debian sid's containerd 2.x binaries (scripts/fetch-containerd2.sh), standing for containerd's release tarball. */
export const CONTAINERD2 = '/opt/ksn-containerd2/usr/bin'
export const ACTION = '/home/runner/work/_actions/org/kubeadm-single-node/v1'
export const MIRROR = 'http://127.0.0.1:5000'

export interface Run {
  code: number
  out: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
}

/** dist/index.js or dist/post.js as the runner starts them: the runner user, INPUT_* and STATE_* variables, the command files. */
export async function runStep(m: Machine, entry: 'index' | 'post', env: Record<string, string>): Promise<Run> {
  const r = await m.exec(['node', `${ACTION}/dist/${entry}.js`], { user: 'runner', env: runnerEnv(env), timeoutMs: 300_000 })
  const file = (f: string) => m.readFile(f).catch(() => '')
  return {
    code: r.code,
    out: r.stdout + r.stderr,
    outputs: parseCommandFile(await file(RUNNER_FILES.output)),
    state: parseCommandFile(await file(RUNNER_FILES.state)),
    summary: await file(RUNNER_FILES.summary)
  }
}

// every input action.yml declares, as a runner passes them: the workflow's values, else the defaults
export const inputs = (release: Release, extra: Record<string, string> = {}): Record<string, string> =>
  inputEnv({
    'kubernetes-release-url': release.kubernetesReleaseUrl,
    'github-url': release.githubUrl,
    'registry-mirrors': ['registry.k8s.io', 'ghcr.io', 'docker.io'].map((r) => `${r}=${MIRROR}`).join('\n'),
    cleanup: 'true',
    timeout: '1m',
    ...extra
  })

/** The release mirror (one per call), the registry (unless `registry: false`) and the images a run of `version` pulls. */
export async function prepareMachine(m: Machine, version: string, opts: { registry?: boolean; crictl?: string } = {}): Promise<Release> {
  for (const f of ['index', 'post']) await copyIn(m, join(REPO, 'dist', `${f}.js`), `${ACTION}/dist/${f}.js`)
  const release = await serveRelease(m, { version, crictl: opts.crictl })
  const s = await standins()
  const { path: tarball, tgz } = await packContainerdRelease()
  const digest = await release.mirror.addWithSha256(tarball, tgz, 'sha256sum')
  // containerd publishes <file>.sha256sum
  await release.mirror.add(`${tarball}.sha256sum`, `${digest}  ${basename(tarball)}\n`)
  // one registry per machine: a second version's images go to the one already there
  if (opts.registry !== false) await startRegistry(m)
  // what kubeadm (the stand-in, asked as the action asks it), flannel and the smoke test will want
  await m.writeFile('/tmp/ksn-kubeadm', s.kubeadm, { mode: 0o755 })
  await m.writeFile('/tmp/ksn-kubeadm.yaml', `kind: ClusterConfiguration\nkubernetesVersion: ${version}\n`)
  const kubeadmImages = (await m.run(['/tmp/ksn-kubeadm', 'config', 'images', 'list', '--config', '/tmp/ksn-kubeadm.yaml'])).trim().split('\n')
  await m.run(['rm', '-f', '/tmp/ksn-kubeadm', '/tmp/ksn-kubeadm.yaml', '/var/log/ksn-standins.log'])
  await inTurns(3, [...kubeadmImages, ...FLANNEL.images, 'docker.io/library/nginx:stable-alpine'], (image) => pushImage(m, image))
  return release
}


/**
 * containerd's release tarball as the action downloads it (bin/ at the archive's root), the
 * sid binaries standing for the pinned release: its path under github-url, and its bytes.
 */
export async function packContainerdRelease(): Promise<{ path: string; tgz: Buffer }> {
  const work = await mkdtemp(join(tmpdir(), 'ksn-system-ctd-'))
  try {
    execFileSync('mkdir', ['-p', join(work, 'bin')])
    for (const b of PRIVATE_CONTAINERD.binaries) execFileSync('cp', [join(CONTAINERD2, b), join(work, 'bin', b)])
    execFileSync('tar', ['-czf', join(work, 'ctd.tgz'), '-C', work, 'bin'])
    const v = PRIVATE_CONTAINERD.version
    return { path: `github/containerd/containerd/releases/download/v${v}/containerd-${v}-linux-amd64.tar.gz`, tgz: await readFile(join(work, 'ctd.tgz')) }
  } finally {
    execFileSync('rm', ['-rf', work])
  }
}

/** fn over items, at most `n` at a time (builds and pushes wait on Docker and the registry more than on the CPU). */
export async function inTurns<T>(n: number, items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item)
    })
  )
}
