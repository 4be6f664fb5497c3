// container-runtime: docker. cri-dockerd's units (parsed, and checked by the host's real
// `systemd-analyze verify`), its download pinned to kubespray's digest, the plan and the
// dry run, the problems found before anything changes, Docker's image store against a real
// dockerd and a real registry (pull, pull through a mirror, load, tag, `docker build`), and
// cleanup putting back the binary, the units and daemon.json. cri-dockerd itself cannot be
// downloaded here: a stand-in takes its place in the tool cache, and only a runner shows the
// real one serving the kubelet.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { renderPlan } from '../src/engine/describe.js'
import { execute } from '../src/engine/execute.js'
import type { Step, StepId } from '../src/engine/step.js'
import { ChecksumError, downloadVerified } from '../src/host/download.js'
import { CommandError, createRun, type Run } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger } from '../src/host/ledger.js'
import { HOST_PATHS, onHost, type Paths } from '../src/host/paths.js'
import { parseDockerInfo, type HostFacts } from '../src/host/probe.js'
import type { ServiceManager } from '../src/host/services.js'
import { preloadImages } from '../src/images/preload.js'
import { buildPlan } from '../src/phases/index.js'
import { hostProblems } from '../src/preflight/preflight.js'
import { renderDaemonJson, systemdCgroupParent } from '../src/render/docker.js'
import { RUNTIME_NAMES } from '../src/runtimes/index.js'
import { docker } from '../src/runtimes/docker/driver.js'
import { parseCrictlVersion } from '../src/runtimes/docker/ready.js'
import { CRI_DOCKERD, criDockerdArtifact } from '../src/runtimes/docker/release.js'
import { dockerRuntimeStore, pullSources } from '../src/runtimes/docker/store.js'
import { CRI_DOCKERD_PATHS, criDockerdServiceUnit, criDockerdSocketUnit } from '../src/runtimes/docker/units.js'
import { Daemon, waitFor } from './bed/daemons.js'
import { BINS, bedUnavailable } from './bed/env.js'
import { buildImage, dockerArchive, push } from './bed/images.js'
import { startRegistry, type Registry } from './bed/registry.js'
import { config, hostedRunner } from './helpers/facts.js'
import { diffSnapshots, layRunner, snapshot } from './helpers/host-tree.js'
import { nonLoopbackAddress, serve } from './helpers/http.js'

const exec = promisify(execFile)
const VERSION = 'v1.34.2'
const run = createRun({ sudo: false, debug: () => {} })

/** A unit file as sections of key/value pairs, repeated keys kept in order. */
function parseUnit(text: string): Map<string, Array<[string, string]>> {
  const out = new Map<string, Array<[string, string]>>()
  let section = ''
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line)
    if (s) out.set((section = s[1]), [])
    else if (line.includes('=')) out.get(section)!.push([line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  }
  return out
}
const value = (unit: ReturnType<typeof parseUnit>, section: string, key: string): string | undefined => unit.get(section)?.find(([k]) => k === key)?.[1]

/** The hosted runner as the Docker driver sees it: Docker 28.0.4, cgroupfs, the runner's daemon.json. */
const withDocker = (engine: HostFacts['dockerEngine'] = { version: '28.0.4', major: 28, cgroupDriver: 'cgroupfs', via: 'user' }): HostFacts => ({ ...hostedRunner, dockerEngine: engine })
const build = (inputs: Record<string, string> = {}, facts = withDocker(), paths = HOST_PATHS) =>
  buildPlan({ config: config({ 'container-runtime': 'docker', ...inputs }), facts, version: VERSION, paths })
const byId = (steps: Step[]) => new Map(steps.map((s) => [s.id, s]))
const writeOf = (step: Step, path: string) => {
  const op = step.ops.find((o) => o.kind === 'write' && o.path === path)
  assert.ok(op && op.kind === 'write', `${step.id} writes ${path}`)
  return op
}

describe("cri-dockerd's units", () => {
  const o = { binary: '/usr/local/bin/cri-dockerd', pauseImage: 'registry.k8s.io/pause:3.10.1', cniBinDir: '/opt/cni/bin', cniConfDir: '/etc/cni/net.d' }

  it("starts cri-dockerd on systemd's socket, with kubeadm's pause image and CNI", () => {
    const unit = parseUnit(criDockerdServiceUnit(o))
    const args = value(unit, 'Service', 'ExecStart')!.split(' ')
    assert.equal(args[0], '/usr/local/bin/cri-dockerd')
    const flag = (name: string): string | undefined => {
      const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`))
      return i < 0 ? undefined : args[i].includes('=') ? args[i].split('=')[1] : args[i + 1]
    }
    assert.equal(flag('--container-runtime-endpoint'), 'fd://')
    assert.equal(flag('--pod-infra-container-image'), 'registry.k8s.io/pause:3.10.1')
    assert.equal(flag('--network-plugin'), 'cni')
    assert.equal(flag('--cni-bin-dir'), '/opt/cni/bin')
    assert.equal(flag('--cni-conf-dir'), '/etc/cni/net.d')
    assert.equal(value(unit, 'Service', 'Type'), 'notify', 'cri-dockerd tells systemd when it serves')
    assert.equal(value(unit, 'Unit', 'Requires'), 'cri-docker.socket')
    assert.match(value(unit, 'Unit', 'After')!, /\bdocker\.service\b/)
    assert.match(value(unit, 'Unit', 'Wants')!, /\bdocker\.service\b/)
    assert.equal(value(unit, 'Service', 'Delegate'), 'yes')
    assert.equal(value(unit, 'Service', 'KillMode'), 'process', 'restarting cri-dockerd leaves the pods running')
  })

  it("listens where kubeadm looks for cri-dockerd, for root and the docker group", () => {
    const unit = parseUnit(criDockerdSocketUnit('/run/cri-dockerd.sock'))
    assert.equal(value(unit, 'Socket', 'ListenStream'), '/run/cri-dockerd.sock')
    assert.equal(value(unit, 'Socket', 'SocketGroup'), 'docker')
    assert.equal(value(unit, 'Socket', 'SocketMode'), '0660')
    assert.equal(value(unit, 'Socket', 'RemoveOnStop'), 'yes', 'stopped by cleanup, it leaves no file in /run')
    assert.equal(value(unit, 'Unit', 'PartOf'), 'cri-docker.service')
    assert.equal(value(unit, 'Install', 'WantedBy'), 'sockets.target')
  })

  const analyze = existsSync('/usr/bin/systemd-analyze') ? false : 'systemd-analyze is not installed'
  it('passes systemd-analyze verify, which rejects a unit whose binary is missing', { skip: analyze }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksn-units-'))
    // a stand-in for cri-dockerd: verify checks that ExecStart's binary is executable
    const standIn = join(dir, 'cri-dockerd')
    await writeFile(standIn, '#!/bin/sh\n# stand-in for cri-dockerd\nexit 0\n')
    await chmod(standIn, 0o755)
    const verify = async (binary: string): Promise<{ code: number; out: string }> => {
      const d = await mkdtemp(join(dir, 'u-'))
      await writeFile(join(d, 'cri-docker.service'), criDockerdServiceUnit({ ...o, binary }))
      await writeFile(join(d, 'cri-docker.socket'), criDockerdSocketUnit('/run/cri-dockerd.sock'))
      return exec('systemd-analyze', ['verify', join(d, 'cri-docker.socket'), join(d, 'cri-docker.service')]).then(
        (r) => ({ code: 0, out: `${r.stdout}${r.stderr}` }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` })
      )
    }
    const good = await verify(standIn)
    // docker.service is not installed as a unit here: verify says so and nothing else
    const complaints = good.out.split('\n').filter((l) => l.trim() !== '' && !/docker\.service/.test(l))
    assert.deepEqual(complaints, [], good.out)
    assert.equal(good.code, 0, good.out)
    const bad = await verify(join(dir, 'missing', 'cri-dockerd'))
    assert.notEqual(bad.code, 0)
    assert.match(bad.out, /is not executable/)
  })
})

describe("Docker's daemon.json for the kubelet's cgroup driver", () => {
  it("sets the systemd driver and turns the runner's cgroup-parent into the slice systemd requires", () => {
    const out = JSON.parse(renderDaemonJson({ 'exec-opts': ['native.cgroupdriver=cgroupfs'], 'cgroup-parent': '/actions_job', 'log-level': 'warn' }, { dockerHubMirrors: ['https://mirror.gcr.io'], cgroupDriver: 'systemd' }))
    assert.deepEqual(out['exec-opts'], ['native.cgroupdriver=systemd'])
    assert.equal(out['cgroup-parent'], 'actions_job.slice')
    assert.equal(out['log-level'], 'warn')
    assert.deepEqual(out['registry-mirrors'], ['https://mirror.gcr.io'])
    assert.equal(systemdCgroupParent('jobs.slice'), 'jobs.slice')
    assert.equal(systemdCgroupParent('/a/b/'), 'a-b.slice')
    // left as it is without a cgroup driver to set
    assert.equal(JSON.parse(renderDaemonJson({ 'cgroup-parent': '/actions_job' }, { dockerHubMirrors: [] }))['cgroup-parent'], '/actions_job')
  })

  it("reads the engine's version and cgroup driver from docker info", () => {
    assert.deepEqual(parseDockerInfo('28.0.4 systemd\n'), { version: '28.0.4', major: 28, cgroupDriver: 'systemd', via: 'user' })
    assert.deepEqual(parseDockerInfo('20.10.24+dfsg1 cgroupfs', 'root'), { version: '20.10.24+dfsg1', major: 20, cgroupDriver: 'cgroupfs', via: 'root' })
    assert.equal(parseDockerInfo('Cannot connect to the Docker daemon'), undefined)
  })
})

describe("cri-dockerd's download", () => {
  it('is pinned per architecture, from github-url, with the digests kubespray records', () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const a = criDockerdArtifact('https://github.com', arch)
      assert.equal(a.url, `https://github.com/Mirantis/cri-dockerd/releases/download/v${CRI_DOCKERD.version}/cri-dockerd-${CRI_DOCKERD.version}.${arch}.tgz`)
      assert.match(a.pinned!, /^[0-9a-f]{64}$/)
      assert.equal(a.input, 'github-url')
      assert.match(a.pinSource!, /kubernetes-sigs\/kubespray\/blob\/[0-9a-f]{40}\/roles\/kubespray_defaults\/vars\/main\/checksums\.yml$/)
      // what a mirror on this machine keeps beside the archive, since cri-dockerd publishes none
      assert.equal(a.checksumUrl, `${a.url}.sha256`)
    }
    assert.notEqual(CRI_DOCKERD.sha256.amd64, CRI_DOCKERD.sha256.arm64)
    assert.match(criDockerdArtifact('https://ghproxy.example/gh', 'arm64').url, /^https:\/\/ghproxy\.example\/gh\/Mirantis\//)
  })

  it('accepts only the pinned digest from a mirror not on this machine, asking for no checksum file, and deletes anything else', async (t) => {
    const addr = nonLoopbackAddress()
    if (!addr) return t.skip('no non-loopback IPv4 address here to serve a remote-looking mirror from')
    const temp = await mkdtemp(join(tmpdir(), 'ksn-pinned-'))
    const saved = process.env.RUNNER_TEMP
    process.env.RUNNER_TEMP = temp
    const body = 'an archive'
    const server = await serve({ '/good.tgz': { body }, '/bad.tgz': { body: 'a tampered archive' } }, addr)
    try {
      const pinned = createHash('sha256').update(body).digest('hex')
      const art = (file: string) => ({ name: 'cri-dockerd', url: `${server.url}/${file}`, checksumUrl: `${server.url}/${file}.sha256`, pinned, pinSource: 'https://example.invalid/kubespray/checksums.yml', input: 'github-url' as const })
      assert.equal(await readFile(await downloadVerified(art('good.tgz')), 'utf8'), body)
      await assert.rejects(downloadVerified(art('bad.tgz')), (err: unknown) => {
        assert.ok(err instanceof ChecksumError)
        assert.match(err.message, new RegExp(`the action pins ${pinned} \\(from https://example\\.invalid/kubespray/checksums\\.yml\\)`))
        return true
      })
      assert.deepEqual(server.hits, ['/good.tgz', '/bad.tgz'], 'no checksum file was asked for')
    } finally {
      process.env.RUNNER_TEMP = saved
      await server.close()
    }
  })
})

describe('container-runtime: docker in the plan', () => {
  it('is a choice of the container-runtime input', () => {
    assert.ok(RUNTIME_NAMES.includes('docker'))
    assert.equal(config({ 'container-runtime': 'docker' }).containerRuntime, 'docker')
    assert.throws(() => config({ 'container-runtime': 'dockerd' }), /container-runtime.*containerd.*docker/s)
  })

  it("installs cri-dockerd, sets Docker's cgroup driver with a restart, starts the socket, then waits for CRI", () => {
    const plan = build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' })
    const s = byId(plan.steps)
    assert.deepEqual([...s.keys()].filter((id) => id.startsWith('runtime.')), ['runtime.cri-dockerd', 'runtime.configure', 'runtime.ready'])
    assert.equal(s.has('runtime.docker-mirrors'), false, 'the driver writes daemon.json, mirrors included')
    const configure = s.get('runtime.configure')!
    const json = JSON.parse(writeOf(configure, HOST_PATHS.dockerDaemonJson).render(plan.learned))
    assert.deepEqual(json, { 'exec-opts': ['native.cgroupdriver=systemd'], 'cgroup-parent': 'actions_job.slice', 'registry-mirrors': ['https://mirror.gcr.io'] })
    const services = configure.ops.filter((o) => o.kind === 'service')
    assert.deepEqual(services, [
      { kind: 'service', action: 'restart', unit: 'docker' },
      { kind: 'service', action: 'daemon-reload' },
      { kind: 'service', action: 'enable', unit: 'cri-docker.socket' },
      { kind: 'service', action: 'enable', unit: 'cri-docker.service' },
      { kind: 'service', action: 'restart', unit: 'cri-docker.socket' },
      { kind: 'service', action: 'restart', unit: 'cri-docker.service' }
    ])
    assert.ok(s.get('runtime.ready')!.needs.includes('binaries.crictl'))
    // the download starts at once; the service unit waits for the pause image kubeadm names
    assert.deepEqual(s.get('runtime.cri-dockerd')!.needs, [])
    assert.deepEqual(s.get('runtime.configure')!.needs, ['runtime.cri-dockerd', 'config.images'])
    assert.ok(s.get('images.preload')!.needs.includes('runtime.ready'))
    assert.match(plan.notes.join('\n'), /Docker 28\.0\.4 uses the cgroupfs cgroup driver: .*restarts Docker, which stops running containers/)
  })

  it('leaves a Docker already on the systemd driver alone: no daemon.json, no restart; mirrors by a reload', () => {
    const plan = build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }, withDocker({ version: '28.0.4', major: 28, cgroupDriver: 'systemd', via: 'user' }))
    const s = byId(plan.steps)
    assert.equal(s.get('runtime.configure')!.ops.some((o) => (o.kind === 'write' && o.path === HOST_PATHS.dockerDaemonJson) || (o.kind === 'service' && o.unit === 'docker')), false)
    assert.deepEqual(s.get('runtime.docker-mirrors')!.ops.filter((o) => o.kind === 'service'), [{ kind: 'service', action: 'reload', unit: 'docker' }])
    assert.ok(s.get('runtime.ready')!.needs.includes('runtime.docker-mirrors'), 'the preload pulls through dockerd only once it has the mirrors')
    assert.deepEqual(plan.notes.filter((n) => /cgroup/.test(n)), [])
  })

  it("names cri-dockerd's socket as the criSocket in kubeadm's config, crictl's and cleanup's", () => {
    const plan = build()
    const s = byId(plan.steps)
    const kubeadm = parseAllDocuments(writeOf(s.get('config.kubeadm')!, '/etc/kubeadm-single-node/kubeadm.yaml').render(plan.learned)).map((d) => d.toJS())
    assert.equal(kubeadm[0].nodeRegistration.criSocket, 'unix:///run/cri-dockerd.sock')
    assert.equal(kubeadm[2].cgroupDriver, 'systemd')
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /runtime-endpoint: unix:\/\/\/run\/cri-dockerd\.sock/)
    assert.match(text, /kubeadm reset --force --cri-socket unix:\/\/\/run\/cri-dockerd\.sock/)
    assert.doesNotMatch(text, /containerd\.sock|\/etc\/containerd\//, "containerd's socket and config are not the cluster's")
  })

  it("renders the service with the pause image kubeadm names at run time, not the prediction", () => {
    const plan = build()
    const op = writeOf(byId(plan.steps).get('runtime.configure')!, '/etc/systemd/system/cri-docker.service')
    assert.match(op.render(plan.learned), /--pod-infra-container-image registry\.k8s\.io\/pause:3\.10\.1 /)
    assert.match(op.render({ ...plan.learned, kubeadmImages: ['mirror.example/k8s/pause:9.9'] }), /--pod-infra-container-image mirror\.example\/k8s\/pause:9\.9 /)
    const mirrored = build({ 'image-repository': 'registry.aliyuncs.com/google_containers' })
    assert.match(writeOf(byId(mirrored.steps).get('runtime.configure')!, '/etc/systemd/system/cri-docker.service').render(mirrored.learned), /--pod-infra-container-image registry\.aliyuncs\.com\/google_containers\/pause:3\.10\.1 /)
  })

  it('shows the download, the pinned digest, the units and the docker commands of the preload in the dry run', () => {
    const plan = build({ 'image-archives': '/tmp/app.tar', 'image-retags': 'docker.io/library/nginx:stable-alpine=mirror.example/nginx:1', 'registry-mirrors': 'ghcr.io=https://ghcr.m.daocloud.io' })
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /GET https:\/\/github\.com\/Mirantis\/cri-dockerd\/releases\/download\/v0\.3\.26\/cri-dockerd-0\.3\.26\.amd64\.tgz/)
    assert.match(text, new RegExp(`verify SHA-256 against https://github\\.com/.*cri-dockerd-0\\.3\\.26\\.amd64\\.tgz\\.sha256 only on a mirror on this machine; from any other, the pinned ${CRI_DOCKERD.sha256.amd64}`))
    assert.match(text, /install -D -m 0755 '<extracted>\/cri-dockerd\/cri-dockerd' \/usr\/local\/bin\/cri-dockerd/)
    assert.match(text, /write \/etc\/systemd\/system\/cri-docker\.socket/)
    assert.match(text, /ListenStream=\/run\/cri-dockerd\.sock/)
    assert.match(text, /\$ sudo systemctl restart -- cri-docker\.socket/)
    assert.match(text, /crictl --runtime-endpoint unix:\/\/\/run\/cri-dockerd\.sock --timeout 5s version/)
    assert.match(text, /\$ sudo docker load --input \/tmp\/app\.tar/)
    assert.match(text, /\$ sudo docker image ls --format '\{\{\.Repository\}\}:\{\{\.Tag\}\}'/)
    assert.match(text, /\$ sudo docker pull registry\.k8s\.io\/kube-apiserver:v1\.34\.2/)
    assert.match(
      text,
      /\$ sudo docker pull ghcr\.m\.daocloud\.io\/flannel-io\/flannel:v0\.28\.9 && sudo docker tag ghcr\.m\.daocloud\.io\/flannel-io\/flannel:v0\.28\.9 ghcr\.io\/flannel-io\/flannel:v0\.28\.9/,
      'a mirrored registry is pulled from by name, then tagged with the name the cluster asks for'
    )
    assert.match(text, /\$ sudo docker tag docker\.io\/library\/nginx:stable-alpine mirror\.example\/nginx:1/)
    assert.doesNotMatch(text, /\bctr\b/)
  })

  it('stops before any change on a host without Docker, naming container-runtime', () => {
    const facts: HostFacts = { ...hostedRunner, docker: false, dockerEngine: undefined }
    const plan = build({}, facts)
    const problems = hostProblems(config({ 'container-runtime': 'docker' }), facts, HOST_PATHS, plan.runtime)
    assert.equal(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /container-runtime: docker needs Docker on the host.*docker\.io.*container-runtime: containerd/)
  })

  it('accepts Docker 29 as ubuntu-26.04 ships it, and stops before any change where daemon.json cannot be merged', () => {
    const problems = (facts: HostFacts) => build({}, facts).runtime.problems
    // what `docker info` prints on ubuntu-26.04 (Docker 29.4.2 with the image's cgroupfs daemon.json):
    // refused until cri-dockerd's API version (1.44) was read at its source
    const docker29 = { ...hostedRunner, dockerEngine: parseDockerInfo('29.4.2 cgroupfs\n') }
    assert.deepEqual(docker29.dockerEngine, { version: '29.4.2', major: 29, cgroupDriver: 'cgroupfs', via: 'user' })
    const plan = build({}, docker29)
    assert.deepEqual(plan.runtime.problems, [])
    assert.deepEqual(hostProblems(config({ 'container-runtime': 'docker' }), docker29, HOST_PATHS, plan.runtime), [])
    assert.match(plan.notes.join('\n'), /Docker 29\.4\.2 uses the cgroupfs cgroup driver/)
    assert.deepEqual(problems(withDocker({ version: '30.0.0', major: 30, cgroupDriver: 'systemd', via: 'user' })), [], 'a newer Docker is not refused on a guess either')
    assert.deepEqual(problems(withDocker()), [])
    assert.match(problems({ ...withDocker(), daemonJson: undefined })[0], /daemon\.json, which is not valid JSON/)
    assert.deepEqual(problems({ ...withDocker({ version: '28.0.4', major: 28, cgroupDriver: 'systemd', via: 'user' }), daemonJson: undefined }), [], 'not a problem when the file is left alone')
  })

  it('sets the cgroup driver where docker info did not answer, saying why', () => {
    const plan = build({}, { ...hostedRunner, dockerEngine: undefined })
    assert.ok(writeOf(byId(plan.steps).get('runtime.configure')!, HOST_PATHS.dockerDaemonJson))
    assert.match(plan.notes.join('\n'), /`docker info` did not answer/)
  })

  it("points the post step at cri-docker's journal and docker info, with hints for what goes wrong", () => {
    const probes = docker.diagnostics(HOST_PATHS)
    assert.deepEqual(probes.find((p) => p.title.startsWith('cri-docker journal'))!.argv, ['journalctl', '-u', 'cri-docker', '-n', '80', '--no-pager', '-o', 'cat'])
    assert.deepEqual(probes.find((p) => p.title === 'docker info')!.argv, ['docker', 'info'])
    const hint = (text: string) => docker.hints.filter((h) => h.pattern.test(text)).map((h) => h.hint)
    assert.match(hint('Error response from daemon: client version 1.44 is too old. Minimum supported API version is 1.45')[0], /cri-dockerd 0\.3\.26 speaks \(1\.44,.*container-runtime: containerd/)
    assert.match(hint('failed to start daemon: cgroup-parent for systemd cgroup should be a valid slice named as "xxx.slice"')[0], /slice/)
    assert.match(hint('Warning  ErrImageNeverPull  Container image "app:dev" is not present with pull policy of Never').join(' '), /docker image ls/)
    assert.match(hint('misconfiguration: kubelet cgroup driver: "systemd" is different from docker cgroup driver: "cgroupfs"')[0], /native\.cgroupdriver=systemd/)
    assert.match(hint('Timed out waiting for cri-dockerd to answer CRI on unix:///run/cri-dockerd.sock.')[0], /systemctl status cri-docker\.socket/)
    // what the post step prints on every run raises no hint by itself
    const journal = 'Started cri-docker.service - CRI Interface for Docker Application Container Engine.\nConnecting to docker on the Endpoint unix:///var/run/docker.sock'
    assert.deepEqual(hint(`Server Version: 28.0.4\nCgroup Driver: systemd\nCgroup Version: 2\n${journal}`), [])
  })

  it('reads Docker behind cri-dockerd from crictl version', () => {
    assert.deepEqual(parseCrictlVersion('Version:  0.1.0\nRuntimeName:  docker\nRuntimeVersion:  28.0.4\nRuntimeApiVersion:  v1\n'), { name: 'docker', version: '28.0.4' })
    assert.equal(parseCrictlVersion('connect: no such file or directory'), undefined)
  })

  it('pulls through a mirror by name, then from the registry itself; never a digest through a mirror', () => {
    const mirrors = [{ registry: 'ghcr.io', endpoints: ['https://ghcr.m.daocloud.io', 'http://127.0.0.1:5000'] }, { registry: 'docker.io', endpoints: ['https://mirror.gcr.io'] }]
    assert.deepEqual(pullSources('ghcr.io/flannel-io/flannel:v0.28.9', mirrors), ['ghcr.m.daocloud.io/flannel-io/flannel:v0.28.9', '127.0.0.1:5000/flannel-io/flannel:v0.28.9', 'ghcr.io/flannel-io/flannel:v0.28.9'])
    assert.deepEqual(pullSources('docker.io/library/nginx:stable-alpine', mirrors), ['docker.io/library/nginx:stable-alpine'], "Docker Hub's mirrors are dockerd's own")
    const pinned = `ghcr.io/flannel-io/flannel@sha256:${'a'.repeat(64)}`
    assert.deepEqual(pullSources(pinned, mirrors), [pinned])
    assert.deepEqual(pullSources('registry.k8s.io/pause:3.10.1', mirrors), ['registry.k8s.io/pause:3.10.1'])
  })
})

describe("cleanup undoes what container-runtime: docker changed", () => {
  const savedEnv = { ...process.env }
  after(() => {
    process.env = savedEnv
  })

  /** systemd's part, recorded: the units and what was asked of them. */
  function recordingServices(): { services: ServiceManager; calls: string[]; run(r: Run): Run } {
    const calls: string[] = []
    const state: Record<string, { enabled: string; active: boolean }> = { docker: { enabled: 'enabled', active: true } }
    const services: ServiceManager = {
      async act(action, unit) {
        calls.push(`${action}${unit ? ` ${unit}` : ''}`)
        if (unit && action === 'restart') state[unit] = { enabled: state[unit]?.enabled ?? 'disabled', active: true }
        if (unit && action === 'enable') state[unit] = { enabled: 'enabled', active: state[unit]?.active ?? false }
      },
      status: async (unit) => state[unit] ?? { enabled: 'not-found', active: false },
      async disable(unit, stop) {
        calls.push(`disable${stop ? ' --now' : ''} ${unit}`)
      },
      logs: async () => ''
    }
    // cleanup's own systemctl commands, recorded instead of run
    const withSystemctl = (r: Run): Run => async (argv, opts) => {
      if (argv[0] !== 'systemctl') return r(argv, opts)
      calls.push(argv.slice(1).join(' '))
      return { exitCode: 0, stdout: '', stderr: '' }
    }
    return { services, calls, run: withSystemctl }
  }

  it("puts back the runner's daemon.json byte for byte, removes cri-dockerd and its units, and restarts Docker", { skip: process.getuid?.() === 0 ? false : 'needs root (install -o 0)' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksn-docker-undo-'))
    const root = join(dir, 'host')
    const paths: Paths = await layRunner(root)
    const original = await readFile(paths.dockerDaemonJson)
    // the tool cache holds a stand-in release tarball (nothing is downloaded here), and the pin
    // is the stand-in's for this test: a hit is checked against the pin like any download
    const cache = join(dir, 'toolcache')
    const at = join(cache, 'cri-dockerd', CRI_DOCKERD.version, 'amd64')
    const src = join(dir, 'release')
    await mkdir(join(src, 'cri-dockerd'), { recursive: true })
    await writeFile(join(src, 'cri-dockerd', 'cri-dockerd'), '#!/bin/sh\n# stand-in for cri-dockerd\n', { mode: 0o755 })
    await mkdir(at, { recursive: true })
    const tarball = join(at, new URL(criDockerdArtifact('https://github.com', 'amd64').url).pathname.split('/').pop()!)
    await promisify(execFile)('tar', ['-czf', tarball, '-C', src, 'cri-dockerd'])
    await writeFile(`${at}.complete`, '')
    const pinned = CRI_DOCKERD.sha256.amd64
    ;(CRI_DOCKERD.sha256 as { amd64: string }).amd64 = createHash('sha256').update(await readFile(tarball)).digest('hex')
    after(() => {
      ;(CRI_DOCKERD.sha256 as { amd64: string }).amd64 = pinned
    })
    Object.assign(process.env, { RUNNER_TOOL_CACHE: cache, RUNNER_TEMP: join(dir, 'temp') })

    const plan = build({ 'registry-mirrors': 'docker.io=https://mirror.gcr.io' }, withDocker(), paths)
    const before = await snapshot(root)
    const rec = recordingServices()
    const ledger = new Ledger()
    const host = createHost({ run, services: rec.services, ledger, ...paths, scratch: join(dir, 'scratch') })
    for (const id of ['runtime.cri-dockerd', 'runtime.configure'] as StepId[]) {
      await execute([{ ...byId(plan.steps).get(id)!, needs: [] }], { host, learned: plan.learned })
    }
    assert.match(await readFile(join(paths.binDir, 'cri-dockerd'), 'utf8'), /stand-in for cri-dockerd/)
    assert.match(await readFile(join(paths.systemdDir, 'cri-docker.service'), 'utf8'), new RegExp(`ExecStart=${join(paths.binDir, 'cri-dockerd')} --container-runtime-endpoint fd://`))
    assert.match(await readFile(join(paths.systemdDir, 'cri-docker.socket'), 'utf8'), new RegExp(`ListenStream=${onHost(paths, CRI_DOCKERD_PATHS.socket)}`))
    const written = JSON.parse(await readFile(paths.dockerDaemonJson, 'utf8'))
    assert.deepEqual(written['exec-opts'], ['native.cgroupdriver=systemd'])
    assert.deepEqual(rec.calls, ['restart docker', 'daemon-reload', 'enable cri-docker.socket', 'enable cri-docker.service', 'restart cri-docker.socket', 'restart cri-docker.service'])

    rec.calls.length = 0
    const report = await undoChanges(ledger.changes, { run: rec.run(run), services: rec.services, procSwaps: paths.procSwaps, sysClassNet: paths.sysClassNet })
    assert.deepEqual(report.failed, [])
    assert.deepEqual(diffSnapshots(before, await snapshot(root)), [], 'the tree is as it was')
    assert.deepEqual(await readFile(paths.dockerDaemonJson), original, "the runner's daemon.json, byte for byte")
    // the units are stopped and disabled before their files go; Docker restarts with the original file
    assert.deepEqual(rec.calls, ['disable --now cri-docker.service', 'disable --now cri-docker.socket', 'daemon-reload', 'restart -- docker'])
  })

  it('refuses an archive that is not the pinned one from a mirror not on this machine, and installs nothing', { skip: process.getuid?.() === 0 ? false : 'needs root (install -o 0)' }, async (t) => {
    const addr = nonLoopbackAddress()
    if (!addr) return t.skip('no non-loopback IPv4 address here to serve a remote-looking mirror from')
    const dir = await mkdtemp(join(tmpdir(), 'ksn-docker-refuse-'))
    const paths: Paths = await layRunner(join(dir, 'host'))
    const v = CRI_DOCKERD.version
    const file = `/gh/Mirantis/cri-dockerd/releases/download/v${v}/cri-dockerd-${v}.amd64.tgz`
    // the mirror's own checksum file agrees with its archive: only the pin tells them apart
    const server = await serve({ [file]: { body: 'not the release archive' }, [`${file}.sha256`]: { body: createHash('sha256').update('not the release archive').digest('hex') } }, addr)
    Object.assign(process.env, { RUNNER_TOOL_CACHE: join(dir, 'empty-cache'), RUNNER_TEMP: join(dir, 'temp') })
    try {
      // an https mirror as the inputs take it; served here over http on this machine's other address
      const plan = buildPlan({ config: { ...config({ 'container-runtime': 'docker' }), githubUrl: `${server.url}/gh` }, facts: withDocker(), version: VERSION, paths })
      const host = createHost({ run, services: recordingServices().services, ledger: new Ledger(), ...paths, scratch: join(dir, 'scratch') })
      await assert.rejects(execute([{ ...byId(plan.steps).get('runtime.cri-dockerd')!, needs: [] }], { host, learned: plan.learned }), new RegExp(`Checksum mismatch for cri-dockerd: .* but the action pins ${CRI_DOCKERD.sha256.amd64}`))
      assert.equal(existsSync(join(paths.binDir, 'cri-dockerd')), false)
      assert.equal(existsSync(join(paths.systemdDir, 'cri-docker.service')), false)
      assert.ok(!server.hits.includes(`${file}.sha256`), "the mirror's checksum file is not asked")
    } finally {
      await server.close()
    }
  })
})

const skip = bedUnavailable()
describe("Docker's image store, against a real dockerd and registry", { skip: skip || false }, () => {
  let dir: string
  let registry: Registry
  let dockerd: Daemon
  let host: string
  const store = (mirrors: Parameters<typeof dockerRuntimeStore>[1]['mirrors'] = []) => dockerRuntimeStore(run, { dockerHost: host, mirrors })
  const dockerCli = (args: string[]) => exec('docker', args, { env: { ...process.env, DOCKER_HOST: host } })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-docker-store-'))
    registry = await startRegistry(dir)
    const d = join(dir, 'docker')
    await mkdir(d, { recursive: true })
    // vfs: no overlay inside this VM's tmpfs
    await writeFile(join(d, 'daemon.json'), JSON.stringify({ 'storage-driver': 'vfs' }))
    host = `unix://${join(d, 'docker.sock')}`
    dockerd = new Daemon(
      'dockerd',
      () => [BINS.dockerd, '--config-file', join(d, 'daemon.json'), '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'pid'), '-H', host, '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
      join(d, 'dockerd.log')
    )
    dockerd.start()
    await waitFor('dockerd', async () => (await dockerCli(['info', '--format', '{{.ServerVersion}}'])).stdout.trim() !== '')
  })
  after(async () => {
    await dockerd?.stop()
    await registry?.daemon.stop()
  })

  it('pulls from a registry (loopback is plain HTTP to Docker) under the name asked for', async () => {
    await push(await buildImage(dir, 'pause', [2048]), `${registry.host}/pause:3.10.1`)
    await store().pull(`${registry.host}/pause:3.10.1`)
    assert.ok((await store().list()).has(`${registry.host}/pause:3.10.1`))
  })

  it("pulls another registry's image through its mirror and tags it with the name the cluster asks for", async () => {
    await push(await buildImage(dir, 'flannel', [4096]), `${registry.host}/flannel-io/flannel:v0.28.9`)
    // the upstream is a closed port: only the mirror can answer
    const ref = '127.0.0.1:1/flannel-io/flannel:v0.28.9'
    await store([{ registry: '127.0.0.1:1', endpoints: [`http://${registry.host}`] }]).pull(ref)
    const have = await store().list()
    assert.ok(have.has(ref), [...have].join(', '))
    const id = async (name: string) => (await dockerCli(['image', 'inspect', '--format', '{{.Id}}', name])).stdout.trim()
    assert.equal(await id(ref), await id(`${registry.host}/flannel-io/flannel:v0.28.9`), 'the same image under both names')
  })

  it('says every source it tried when none has the image, as a pull error the preload classifies', async () => {
    const ref = '127.0.0.1:1/flannel-io/missing:v1'
    await assert.rejects(
      preloadImages(store([{ registry: '127.0.0.1:1', endpoints: [`http://${registry.host}`] }]), { images: [ref], whereFor: () => [`http://${registry.host}`, 'https://127.0.0.1:1'], attempts: 1 }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`Image ${ref.replace(/\./g, '\\.')} was not found`))
        const tried = ((err.cause as CommandError).result.stderr).split('\n')
        assert.equal(tried.length, 2, tried.join('\n'))
        assert.match(tried[0], new RegExp(`^${registry.host.replace(/\./g, '\\.')}/flannel-io/missing:v1: .*(not found|manifest unknown)`, 'i'))
        assert.match(tried[1], /^127\.0\.0\.1:1\/flannel-io\/missing:v1: .*(refused|connect)/i)
        return true
      }
    )
  })

  it('loads a docker-save archive and tags it', async () => {
    const archive = join(dir, 'app.tar')
    await dockerArchive(await buildImage(dir, 'app', [1024]), archive, 'ksn.test/app:archived')
    assert.deepEqual(await store().importArchive(archive), ['ksn.test/app:archived'])
    await store().tag('ksn.test/app:archived', 'ksn.test/app:v1')
    const have = await store().list()
    assert.ok(have.has('ksn.test/app:archived') && have.has('ksn.test/app:v1'), [...have].join(', '))
  })

  it('keeps an image from `docker build` where the kubelet will look: the preload finds it and pulls nothing', async () => {
    const ctx = join(dir, 'build')
    await mkdir(ctx, { recursive: true })
    await writeFile(join(ctx, 'hello.txt'), 'built in an earlier workflow step\n')
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n')
    await exec('docker', ['build', '--tag', 'ksn.test/built:dev', ctx], { env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' } })
    const lines: string[] = []
    const res = await preloadImages(store(), { images: ['ksn.test/built:dev'], whereFor: () => [], log: (l) => lines.push(l) })
    assert.deepEqual(res.present, ['ksn.test/built:dev'])
    assert.deepEqual(res.pulled, [])
  })
})
