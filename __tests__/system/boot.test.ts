// The harness itself: one machine booted as a hosted runner, and everything the action's
// system tests will lean on checked in it. Skips, saying what is missing, without root or the
// host packages (scripts/system-deps.sh installs them).
import assert from 'node:assert/strict'
import { after, before, describe, it as test } from 'node:test'
import { crictlMissing } from './cri-tools.js'
import {
  KUBEADM_IMAGES,
  RUNNER,
  RUNNER_FILES,
  bootMachine,
  diffSnapshots,
  installCrictl,
  mirrorPath,
  pushImage,
  serveMirror,
  serveRelease,
  sha256hex,
  snapshot,
  standinCalls,
  startRegistry,
  systemAvailable,
  type Machine
} from './machine.js'

const skip = systemAvailable()
if (skip) console.log(`# SKIP booted machine: ${skip}`)

// every test is skipped (and counted so) when the machine cannot be booted here
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)
// the tests that put the real crictl in the machine (cri-tools.ts) skip, saying so, without it
const withCrictl = (name: string, fn: () => Promise<void>): void => void test(name, { skip: skip ?? crictlMissing() }, fn)

describe('a booted machine dressed as a GitHub hosted runner', () => {
  let m: Machine
  const started = Date.now()

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'boot', log: (l) => console.log(l) })
      console.log(`booted in ${Date.now() - started} ms: ${JSON.stringify(m.timings)}`)
      for (const n of m.notes) console.log(`note: ${n}`)
    },
    { timeout: 600_000 }
  )
  after(async () => {
    const t = Date.now()
    await m?.shutdown()
    console.log(`shut down in ${Date.now() - t} ms; whole file ${Date.now() - started} ms`)
  })

  it('runs systemd as PID 1, and systemd says the boot went well', async () => {
    assert.equal((await m.run(['cat', '/proc/1/comm'])).trim(), 'systemd')
    const state = (await m.exec(['systemctl', 'is-system-running'])).stdout.trim()
    const failed = (await m.exec(['systemctl', '--failed', '--no-legend', '--no-pager'])).stdout.trim()
    assert.equal(state, 'running', `failed units: ${failed}`)
    assert.equal((await m.run(['hostname'])).trim(), RUNNER.hostname)
  })

  it('has a runner user (uid 1001, group docker) with passwordless sudo and the runner files', async () => {
    const id = await m.run(['id'], { user: 'runner' })
    assert.match(id, /^uid=1001\(runner\) gid=118\(docker\)/)
    assert.equal((await m.run(['sudo', '-n', 'id', '-u'], { user: 'runner' })).trim(), '0')
    const env = await m.run(['env'], { user: 'runner' })
    assert.match(env, /^RUNNER_ENVIRONMENT=github-hosted$/m)
    assert.match(env, /^RUNNER_ARCH=X64$/m)
    assert.match(env, new RegExp(`^GITHUB_OUTPUT=${RUNNER_FILES.output}$`, 'm'))
    for (const f of Object.values(RUNNER_FILES)) {
      assert.equal((await m.run(['stat', '-c', '%U:%G', f])).trim(), 'runner:docker', f)
    }
    await m.run(['bash', '-c', 'echo "x=1" >> "$GITHUB_OUTPUT"'], { user: 'runner' })
    assert.equal(await m.readFile(RUNNER_FILES.output), 'x=1\n')
    await m.resetRunnerFiles()
    assert.equal(await m.readFile(RUNNER_FILES.output), '')
    // exec's input and cwd
    assert.equal(await m.run(['cat'], { user: 'runner', input: 'on stdin' }), 'on stdin')
    assert.equal((await m.run(['pwd'], { cwd: RUNNER.workspace, user: 'runner' })).trim(), RUNNER.workspace)
  })

  it('has Node 24 where a runner has node', async () => {
    assert.match((await m.run(['node', '--version'], { user: 'runner' })).trim(), /^v24\./)
  })

  it("runs Docker under systemd, with the job's service container up", async () => {
    assert.equal((await m.exec(['systemctl', 'is-active', 'docker'])).stdout.trim(), 'active')
    assert.equal((await m.run(['docker', 'ps', '--format', '{{.Names}} {{.Status}}'])).trim().split(' ')[0], RUNNER.serviceContainer)
    // the runner's user reaches Docker through its group, as on a runner
    assert.equal((await m.run(['docker', 'inspect', '-f', '{{.State.Running}}', RUNNER.serviceContainer], { user: 'runner' })).trim(), 'true')
    assert.equal((await m.run(['curl', '-fsS', 'http://127.0.0.1:5432/'])).trim(), RUNNER.serviceContainer)
  })

  withCrictl("runs containerd with Docker's stock config: the CRI plugin disabled", async () => {
    assert.match(await m.readFile('/etc/containerd/config.toml'), /^disabled_plugins = \["cri"\]$/m)
    assert.equal((await m.exec(['systemctl', 'is-active', 'containerd'])).stdout.trim(), 'active')
    const plugins = await m.run(['ctr', 'plugins', 'ls'])
    assert.doesNotMatch(plugins, /io\.containerd\.grpc\.v1\s+cri\s/)
    // what the real crictl says to such a containerd
    await installCrictl(m)
    const info = await m.exec(['crictl', '--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'info'])
    assert.equal(info.code, 1)
    assert.match(info.stderr, /validate CRI v1 runtime API for endpoint \\"unix:\/\/\/run\/containerd\/containerd.sock\\": rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService/)
  })

  it('loads overlay and br_netfilter with modprobe (built in), and refuses an unknown module', async () => {
    assert.equal((await m.exec(['modprobe', 'overlay', 'br_netfilter'])).code, 0)
    assert.equal((await m.exec(['sudo', '-n', 'modprobe', '-a', 'overlay', 'br_netfilter'], { user: 'runner' })).code, 0)
    const bad = await m.exec(['modprobe', 'ksn-no-such-module'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /not found/)
    // the sysctls the action sets are writable here (net.* is the machine's own)
    await m.run(['sysctl', '-w', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1'])
  })

  it('has swap on, as a hosted runner does', async () => {
    const swaps = await m.readFile('/proc/swaps')
    assert.match(swaps, new RegExp(`^${RUNNER.swapfile}\\s`, 'm'), `${m.notes.join('; ')}`)
  })

  it('serves files and their .sha256 from a mirror inside the machine', async () => {
    const mirror = await serveMirror(m, { 'hello.txt': 'hello\n' })
    const body = Buffer.from('a binary\n')
    const bare = await mirror.addWithSha256('v1.34.2/bin/linux/amd64/tool', body, 'bare')
    await mirror.addWithSha256('releases/download/v1/tool.tar.gz', body, 'sha256sum')
    assert.equal(await m.run(['curl', '-fsS', `${mirror.url}/hello.txt`]), 'hello\n')
    assert.equal(await m.run(['curl', '-fsS', `${mirror.url}/v1.34.2/bin/linux/amd64/tool.sha256`]), bare)
    assert.equal(await m.run(['curl', '-fsS', `${mirror.url}/releases/download/v1/tool.tar.gz.sha256`]), `${sha256hex(body)}  tool.tar.gz\n`)
    await m.sh(`cd "$(mktemp -d)" && curl -fsSO ${mirror.url}/releases/download/v1/tool.tar.gz && curl -fsS ${mirror.url}/releases/download/v1/tool.tar.gz.sha256 | sha256sum -c -`)
    await mirror.close()
  })

  withCrictl('lays out a release (stand-in binaries, real CNI plugins, the real crictl, flannel) the way the action fetches it', async () => {
    const rel = await serveRelease(m)
    const k = `${rel.kubernetesReleaseUrl}/v1.34.2/bin/linux/amd64`
    await m.sh(`set -e; d=$(mktemp -d); cd "$d"
      for b in kubeadm kubelet kubectl; do curl -fsSO ${k}/$b; test "$(curl -fsS ${k}/$b.sha256)" = "$(sha256sum $b | cut -d' ' -f1)"; done
      curl -fsSO ${rel.githubUrl}/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz
      curl -fsS ${rel.githubUrl}/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz.sha256 | sha256sum -c -
      curl -fsSO ${rel.githubUrl}/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz
      curl -fsS ${rel.githubUrl}/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz.sha256 | sha256sum -c -
      curl -fsSO ${rel.githubUrl}/flannel-io/flannel/raw/v0.28.9/Documentation/kube-flannel.yml`)
    const listing = await m.sh(`cd /tmp && curl -fsS ${rel.githubUrl}/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz | tar -tzvf -`)
    for (const f of ['./bridge', './host-local', './loopback', './portmap', './README.md', './LICENSE']) assert.match(listing, new RegExp(` ${f.replace('.', '\\.')}$`, 'm'), f)
    assert.match(listing, /^-rwxr-xr-x root\/root .* \.\/bridge$/m)
    const crictlTar = await m.sh(`curl -fsS ${rel.githubUrl}/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz | tar -tzf -`)
    assert.equal(crictlTar.trim(), 'crictl')
    // the real client (v1.36.0, the only one here, under v1.34.0's file name: serve.ts says why)
    assert.match(await m.sh(`curl -fsS ${rel.githubUrl}/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz | tar -xzO crictl > /tmp/crictl && chmod 755 /tmp/crictl && /tmp/crictl --version`), /^crictl version v1\.36\.0$/m)

    // the stand-ins, installed as the action would install them
    await m.sh(`set -e; for b in kubeadm kubelet kubectl; do curl -fsS -o /usr/local/bin/$b ${k}/$b; chmod 755 /usr/local/bin/$b; done`)
    await m.writeFile('/tmp/kubeadm.yaml', 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.34.2\n')
    assert.deepEqual((await m.run(['kubeadm', 'config', 'images', 'list', '--config', '/tmp/kubeadm.yaml'])).trim().split('\n'), [...KUBEADM_IMAGES])
    assert.equal((await m.run(['kubelet', '--version'])).trim(), 'Kubernetes v1.34.2')
    assert.match(await m.run(['kubectl', 'version', '--client'], { user: 'runner' }), /^Client Version: v1\.34\.2$/m)
    // kubeadm init against Docker's containerd (CRI off) fails at preflight, in kubeadm's words
    const init = await m.exec(['kubeadm', 'init', '--config', '/tmp/kubeadm.yaml'])
    assert.equal(init.code, 1)
    assert.match(init.stderr, /\[WARNING Swap\]: swap is supported for cgroup v2 only/)
    assert.match(init.stderr, /failed to create new CRI runtime service: validate service connection: validate CRI v1 runtime API for endpoint "unix:\/\/\/var\/run\/containerd\/containerd.sock": rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService/)
    assert.match(init.stderr, /^error: error execution phase preflight: preflight checks failed$/m)
    assert.equal((await m.exec(['kubeadm', 'reset', '-f'])).code, 0)
    const calls = await standinCalls(m)
    assert.ok(calls.some((l) => / kubeadm init --config \/tmp\/kubeadm.yaml$/.test(l)), calls.join('\n'))
    await m.run(['rm', '-f', '/usr/local/bin/kubeadm', '/usr/local/bin/kubelet', '/usr/local/bin/kubectl', '/usr/local/bin/crictl'])
  })

  it('runs a registry that serves pushed images under the paths a containerd mirror asks for', async () => {
    const reg = await startRegistry(m)
    const pause = await pushImage(m, 'registry.k8s.io/pause:3.10.1')
    const nginx = await pushImage(m, 'docker.io/library/nginx:stable-alpine')
    assert.equal(pause.ref, '127.0.0.1:5000/pause:3.10.1')
    assert.equal(mirrorPath('nginx:stable-alpine'), 'library/nginx:stable-alpine')
    assert.equal(mirrorPath('ghcr.io/flannel-io/flannel:v0.28.9'), 'flannel-io/flannel:v0.28.9')
    const head = await m.run(['curl', '-fsSI', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `${reg.url}/v2/pause/manifests/3.10.1`])
    assert.match(head, new RegExp(`^docker-content-digest: ${pause.digest}`, 'mi'))
    // pushed images are not left in the runner's Docker, and they run
    assert.notEqual((await m.exec(['docker', 'image', 'inspect', nginx.ref])).code, 0)
    await m.run(['docker', 'run', '-d', '--name', 'ksn-probe', '-p', '127.0.0.1:8089:80', nginx.ref])
    try {
      assert.equal((await m.run(['curl', '-fsS', '--retry', '5', '--retry-connrefused', '--retry-delay', '1', 'http://127.0.0.1:8089/'])).trim(), 'docker.io/library/nginx:stable-alpine')
    } finally {
      await m.run(['docker', 'rm', '-f', 'ksn-probe'])
      await m.run(['docker', 'rmi', nginx.ref])
    }
  })

  it('takes snapshots: two in a row are equal, and a change shows', async () => {
    const a = await snapshot(m)
    const b = await snapshot(m)
    assert.deepEqual(diffSnapshots(a, b), [])
    assert.ok(a.files['/etc/containerd/config.toml']?.startsWith('file 0644 0:0'), a.files['/etc/containerd/config.toml'])
    assert.ok(a.enabledUnits.includes('docker.service'))
    assert.deepEqual(a.containers, [RUNNER.serviceContainer])
    assert.ok('net.ipv4.ip_forward' in a.sysctl)

    await m.writeFile('/etc/ksn-probe.conf', 'x\n', { mode: 0o600 })
    const keepalive = a.sysctl['net.ipv4.tcp_keepalive_time']
    await m.run(['sysctl', '-w', 'net.ipv4.tcp_keepalive_time=7201'])
    const c = await snapshot(m)
    await m.run(['rm', '/etc/ksn-probe.conf'])
    await m.run(['sysctl', '-w', `net.ipv4.tcp_keepalive_time=${keepalive}`])
    const diff = diffSnapshots(a, c)
    assert.deepEqual(diff, ['+ /etc/ksn-probe.conf (file 0600 0:0 2B sha256:' + (c.files['/etc/ksn-probe.conf'] ?? '').split('sha256:')[1] + ')', `~ sysctl net.ipv4.tcp_keepalive_time: ${keepalive} -> 7201`])
    assert.deepEqual(diffSnapshots(a, await snapshot(m)), [])
  })
})
