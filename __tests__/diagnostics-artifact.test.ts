// diagnostics-artifact: the main step on a simulated runner (helpers/host-tree.ts, its
// kubeadm and kubectl shims), then the post step, which uploads the archive through the real
// @actions/artifact to a stand-in of GitHub's artifact service (helpers/artifact-service.ts).
// The run is given a registry credential and a kubeadm-config bootstrap token and certificate
// key, which the action really writes into containerd's credential provider, Docker's
// config.json and kubeadm.yaml: none of them may be anywhere in the archive's bytes.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import * as core from '@actions/core'
import { actionMain, actionPost } from '../src/entry/action.js'
import type { Paths } from '../src/host/paths.js'
import { artifactName, artifactServiceMissing, wantsArtifact } from '../src/io/artifact.js'
import { startArtifactService, type ArtifactService, type StoredArtifact } from './helpers/artifact-service.js'
import { serve, type TestServer } from './helpers/http.js'
import { layRunner, releaseRoutes } from './helpers/host-tree.js'
import { inputEnv, parseCommandFile, sandbox, type Sandbox } from './helpers/runner.js'

const PASSWORD = 'planted-registry-password-5c2f9e'
const BOOTSTRAP = 'pl4nt3.d0t0k3n0s3cr3t0x'
const CERT_KEY = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed'
const SECRETS = [PASSWORD, BOOTSTRAP, CERT_KEY, Buffer.from(PASSWORD).toString('base64'), Buffer.from(`octocat:${PASSWORD}`).toString('base64')]
const KUBEADM_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: ${BOOTSTRAP}
certificateKey: ${CERT_KEY}
`

/** The archive inside the artifact's zip: the .tar.gz's bytes. */
async function archiveOf(a: StoredArtifact): Promise<{ name: string; gz: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-artifact-'))
  await writeFile(join(dir, 'artifact.zip'), a.body!)
  const names = execFileSync('unzip', ['-Z1', join(dir, 'artifact.zip')]).toString().trim().split('\n')
  assert.equal(names.length, 1, `one file in the artifact: ${names.join(', ')}`)
  return { name: names[0], gz: execFileSync('unzip', ['-p', join(dir, 'artifact.zip'), names[0]], { maxBuffer: 1 << 30 }) }
}

async function extract(gz: Buffer): Promise<{ dir: string; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-archive-'))
  await writeFile(join(dir, 'a.tar.gz'), gz)
  execFileSync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir])
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return { dir, files: entries.filter((e) => e.isFile() && e.name !== 'a.tar.gz').map((e) => relative(dir, join(e.parentPath, e.name))).sort() }
}

describe('diagnostics-artifact: the post step uploads one archive', () => {
  let server: TestServer
  let service: ArtifactService
  let sb: Sandbox
  let paths: Paths
  let log: string
  const savedEnv = { ...process.env }
  const write = process.stdout.write.bind(process.stdout)

  before(async () => {
    server = await serve(await releaseRoutes())
  })
  after(async () => {
    process.env = savedEnv
    process.exitCode = undefined
    await server.close()
  })
  beforeEach(async () => {
    service = await startArtifactService()
    sb = await sandbox()
    paths = await layRunner(sb.root)
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete process.env[k]
    Object.assign(process.env, sb.env, {
      HOME: join(sb.root, 'home/runner'),
      SHIM_NODE_PORT: new URL(server.url).port,
      ACTIONS_RESULTS_URL: service.url,
      ACTIONS_RUNTIME_TOKEN: service.token('run-7', 'job-run-matrix-leg-3'),
      GITHUB_JOB: 'build',
      GITHUB_RUN_ATTEMPT: '2',
      GITHUB_ACTION: '__org_kubeadm-single-node'
    })
    delete process.env.GITHUB_SERVER_URL
    delete process.env.SHIM_KUBEADM_INIT_FAILS
    process.exitCode = undefined
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
    log = ''
    process.stdout.write = ((chunk: string | Uint8Array) => ((log += String(chunk)), true)) as typeof process.stdout.write
  })
  afterEach(async () => {
    process.stdout.write = write
    await service.close()
  })

  /** main (kubeadm init fails where `fail`), then post with the state main left */
  async function run(inputs: Record<string, string>, fail: boolean): Promise<void> {
    if (fail) process.env.SHIM_KUBEADM_INIT_FAILS = '[init] error execution phase wait-control-plane: the API server did not come up'
    Object.assign(
      process.env,
      inputEnv({
        'kubernetes-version': 'v1.34.2',
        'kubernetes-release-url': `${server.url}/release`,
        'github-url': `${server.url}/gh`,
        cache: 'false',
        'registry-credentials': `docker.io=octocat:${PASSWORD}`,
        'kubeadm-config': KUBEADM_CONFIG,
        ...inputs
      })
    )
    await actionMain(paths)
    assert.equal(process.exitCode, fail ? 1 : undefined, log)
    process.exitCode = undefined
    for (const [k, v] of Object.entries(parseCommandFile(await readFile(sb.files.state, 'utf8')))) process.env[`STATE_${k}`] = v
    // what the kubelet keeps of a container's logs on the node, a secret printed in one
    const podLog = join(sb.root, 'var/log/pods/kube-system_kube-apiserver-runnervm_0123/kube-apiserver/0.log')
    await mkdir(join(podLog, '..'), { recursive: true })
    await writeFile(podLog, `2026-12-03T06:00:00Z stderr F bootstrap token ${BOOTSTRAP} used by a user with ${PASSWORD}\n`)
    await actionPost(undefined, paths)
    assert.equal(process.exitCode, undefined, 'the post step never fails the job')
  }

  it('after a failed main step: one artifact named for the job, the attempt and the job run, with everything and no secret', async () => {
    await run({}, true)
    const arts = service.artifacts()
    assert.equal(arts.length, 1, log)
    const name = arts[0].name
    assert.match(name, /^kubeadm-single-node-diagnostics-build-attempt-2-[0-9a-f]{8}$/)
    assert.equal(name, artifactName(process.env))
    // another matrix leg of the same job and attempt: its own job run, its own name
    assert.notEqual(artifactName({ ...process.env, ACTIONS_RUNTIME_TOKEN: service.token('run-7', 'job-run-matrix-leg-4') }), name)
    assert.deepEqual(service.calls, ['CreateArtifact', 'FinalizeArtifact'])

    const { name: inside, gz } = await archiveOf(arts[0])
    assert.equal(inside, `${name}.tar.gz`)
    const tar = gunzipSync(gz)
    for (const s of SECRETS) {
      assert.equal(tar.includes(s), false, `the archive holds the secret ${s}`)
      assert.equal(arts[0].body!.includes(s), false)
    }
    const { dir, files } = await extract(gz)
    const at = (f: string): string => join(dir, name, f)
    for (const f of [
      'diagnostics.txt',
      'journals/kubelet.log',
      'journals/containerd.log',
      'node-pod-logs/kube-system_kube-apiserver-runnervm_0123/kube-apiserver/0.log',
      'configs/etc/kubeadm-single-node/kubeadm.yaml',
      'configs/etc/containerd/config.toml',
      'configs/etc/kubeadm-single-node/credential-provider/response.json',
      'configs/home/runner/.docker/config.json',
      'ledger.json',
      'timings.json'
    ]) {
      assert.ok(files.includes(`${name}/${f}`), `${f} is in the archive: ${files.join('\n')}`)
    }
    assert.ok(!files.some((f) => f.includes('/configs/home/runner/.kube/') || f.includes('/configs/usr/local/bin/')), 'no kubeconfig, no binary')
    assert.match(await readFile(at('diagnostics.txt'), 'utf8'), /Failed step: init\.kubeadm\n[\s\S]*the API server did not come up[\s\S]*### kubelet journal/)
    assert.match(await readFile(at('journals/kubelet.log'), 'utf8'), /journal of -u kubelet --no-pager -o short-iso-precise/)
    // kubeadm init failed: no kubeconfig, so no cluster to ask; the node's pod logs are there all the same
    assert.match(await readFile(at('missing.txt'), 'utf8'), /^cluster-info\/: no kubectl or kubeconfig yet\npods\/: no kubectl or kubeconfig yet\n$/)
    // redacted where the secret was, the rest kept
    const kubeadm = await readFile(at('configs/etc/kubeadm-single-node/kubeadm.yaml'), 'utf8')
    assert.match(kubeadm, /token: <redacted>/)
    assert.match(kubeadm, /certificateKey: <redacted>/)
    assert.match(kubeadm, /kind: ClusterConfiguration/)
    assert.match(await readFile(at('configs/etc/kubeadm-single-node/credential-provider/response.json'), 'utf8'), /"username": "octocat",\s*"password": "<redacted>"/)
    assert.match(await readFile(at('node-pod-logs/kube-system_kube-apiserver-runnervm_0123/kube-apiserver/0.log'), 'utf8'), /bootstrap token <redacted> used by a user with <redacted>/)
    const ledger = JSON.parse(await readFile(at('ledger.json'), 'utf8'))
    assert.equal(ledger.failed.step, 'init.kubeadm')
    assert.ok(ledger.changes.length > 10)
    const timings = JSON.parse(await readFile(at('timings.json'), 'utf8'))
    assert.ok(timings.steps.length > 5 && timings.steps.every((t: { id: string }) => typeof t.id === 'string'))
    assert.equal(typeof timings.phases.total, 'number')
    assert.ok('binaries' in timings.phases)
    assert.deepEqual((await readdir(process.env.RUNNER_TEMP!)).filter((f) => /diagnostics/.test(f)), [], 'the archive and its directory are removed')
  })

  it('never: nothing collected, nothing uploaded', async () => {
    await run({ 'diagnostics-artifact': 'never' }, true)
    assert.deepEqual(service.calls, [])
    assert.doesNotMatch(log, /diagnostics archive/i)
  })

  it('on-failure after a run that succeeded: nothing uploaded', async () => {
    await run({}, false)
    assert.deepEqual(service.calls, [])
  })

  it('always, after a run that succeeded: uploaded, the probes run for the archive alone', async () => {
    await run({ 'diagnostics-artifact': 'always' }, false)
    assert.equal(service.artifacts().length, 1, log)
    const { gz } = await archiveOf(service.artifacts()[0])
    for (const s of SECRETS) assert.equal(gunzipSync(gz).includes(s), false, `the archive holds the secret ${s}`)
    const { dir, files } = await extract(gz)
    const name = service.artifacts()[0].name
    assert.match(await readFile(join(dir, name, 'diagnostics.txt'), 'utf8'), /^Failed step: \(none: the main step did not fail\)/)
    for (const f of ['timings.json', 'node-files/run/flannel/subnet.env', 'cluster-info/kube-system/events.json', 'pods/kube-system/coredns-1/coredns.log', 'pods/kube-system/coredns-1/coredns.previous.log', 'configs/etc/kubeadm-single-node/kubeadm.yaml']) {
      assert.ok(files.includes(`${name}/${f}`), `${f} is in the archive: ${files.join('\n')}`)
    }
    assert.ok(!files.includes(`${name}/pods/kube-system/kube-flannel-ds-1/kube-flannel.previous.log`), 'previous logs only of a container that restarted')
    assert.ok(!files.some((f) => f.includes('/configs/home/runner/.kube/')), 'never the kubeconfig')
    assert.match(await readFile(join(dir, name, 'pods/kube-system/coredns-1/coredns.previous.log'), 'utf8'), /log of logs --namespace kube-system coredns-1 --container coredns --timestamps --previous --request-timeout=30s/)
    assert.doesNotMatch(log, /::group::Diagnostics/, 'a run that succeeded prints no diagnostics')
  })

  it('the dry run says what the post step of a real run would upload, and its own uploads nothing', async () => {
    Object.assign(process.env, inputEnv({ 'kubernetes-version': 'v1.34.2', 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, cache: 'false', 'dry-run': 'true' }))
    await actionMain(paths)
    assert.equal(process.exitCode, undefined, log)
    assert.match(log, new RegExp(`diagnostics-artifact: on-failure: the post step of a real run uploads the diagnostics archive as the artifact ${artifactName(process.env)} if the main step fails or is cancelled\\.`))
    await actionPost(undefined, paths)
    assert.deepEqual(service.calls, [])
  })

  it('a job without an artifact service: a warning, and nothing is collected', async () => {
    delete process.env.ACTIONS_RUNTIME_TOKEN
    await run({ cleanup: 'true' }, true)
    assert.deepEqual(service.calls, [])
    assert.match(log, /::warning::The diagnostics archive is not uploaded: this job has no artifact service/)
    assert.match(log, /Cleanup: \d+ changes undone/)
  })

  it('an upload the service refuses is a warning: the post step goes on to clean up', async () => {
    service.failWith = 403
    await run({ cleanup: 'true' }, true)
    assert.equal(service.artifacts().length, 0)
    assert.match(log, /::warning::The diagnostics archive could not be uploaded as the artifact kubeadm-single-node-diagnostics-build-attempt-2-[0-9a-f]{8}: .*403/)
    assert.match(log, /Cleanup: \d+ changes undone/)
    assert.deepEqual((await readdir(process.env.RUNNER_TEMP!)).filter((f) => /diagnostics/.test(f)), [], 'the archive is removed all the same')
  })
})

describe('the artifact: when, its name, and where there is no service', () => {
  it('on-failure uploads after a failure only (a cancelled run is one), always always, never never', () => {
    assert.deepEqual(
      [wantsArtifact(undefined, true), wantsArtifact(undefined, false), wantsArtifact('on-failure', true), wantsArtifact('on-failure', false), wantsArtifact('always', false), wantsArtifact('never', true)],
      [true, false, true, false, true, false]
    )
  })

  it('a name of the job, the attempt and the job run, with what an artifact name may not hold replaced', () => {
    const token = (job: string) => `x.${Buffer.from(JSON.stringify({ scp: `Actions.Results:run:${job}` })).toString('base64url')}.y`
    const a = artifactName({ GITHUB_JOB: 'e2e: "a/b" | c*?', GITHUB_RUN_ATTEMPT: '3', ACTIONS_RUNTIME_TOKEN: token('leg-1') })
    assert.match(a, /^kubeadm-single-node-diagnostics-e2e---a-b----c---attempt-3-[0-9a-f]{8}$/)
    assert.notEqual(a, artifactName({ GITHUB_JOB: 'e2e: "a/b" | c*?', GITHUB_RUN_ATTEMPT: '3', ACTIONS_RUNTIME_TOKEN: token('leg-2') }), 'matrix legs differ')
    assert.equal(a, artifactName({ GITHUB_JOB: 'e2e: "a/b" | c*?', GITHUB_RUN_ATTEMPT: '3', ACTIONS_RUNTIME_TOKEN: token('leg-1') }), 'the same job run, the same name')
    // without a runtime token: the runner's name tells legs on different runners apart
    assert.notEqual(artifactName({ GITHUB_JOB: 'j', RUNNER_NAME: 'r1' }), artifactName({ GITHUB_JOB: 'j', RUNNER_NAME: 'r2' }))
  })

  it('says why no artifact can be uploaded: no service in the job, or GitHub Enterprise Server', () => {
    assert.match(artifactServiceMissing({})!, /no artifact service/)
    const service = { ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'https://results.example/' }
    assert.equal(artifactServiceMissing(service), undefined)
    assert.equal(artifactServiceMissing({ ...service, GITHUB_SERVER_URL: 'https://octo.ghe.com' }), undefined)
    assert.match(artifactServiceMissing({ ...service, GITHUB_SERVER_URL: 'https://github.example.com' })!, /GitHub Enterprise Server \(github\.example\.com\).*diagnose --out DIR/)
  })
})
