// offline: true. The archives' names read without extracting them, the check before anything
// changes (every missing piece named with its input, all at once), the downloads from a
// file:// URL still verified, and the preload that never pulls.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { before, describe, it } from 'node:test'
import { createRun } from '../src/host/exec.js'
import { InputError } from '../src/config/inputs.js'
import { ChecksumError, downloadVerified, isLocalUrl } from '../src/host/download.js'
import { HOST_PATHS } from '../src/host/paths.js'
import type { HostFacts } from '../src/host/probe.js'
import { archiveIndexNames } from '../src/images/archive-index.js'
import { preloadImages } from '../src/images/preload.js'
import type { ImageStore } from '../src/images/store.js'
import { buildPlan } from '../src/phases/index.js'
import { offlineProblems } from '../src/preflight/offline.js'
import { criDockerdArtifact } from '../src/runtimes/docker/release.js'
import { preflight } from '../src/preflight/preflight.js'
import { ALL_IMAGES, config, hostedRunner } from './helpers/facts.js'
import { FLANNEL_MANIFEST, releaseRoutes } from './helpers/host-tree.js'
import { serve } from './helpers/http.js'

const V = 'v1.34.2'

let work: string
let releaseDir: string

/** A docker-save tarball declaring `tags`, with a layer of `layerBytes` before its manifest, made by tar itself. */
function dockerSave(name: string, tags: string[], o: { layerBytes?: number; gzip?: boolean; longPathFirst?: boolean } = {}): string {
  const dir = join(work, `${name}.d`)
  execFileSync('mkdir', ['-p', join(dir, 'aaaa')])
  execFileSync('sh', ['-c', `head -c ${o.layerBytes ?? 3000} /dev/urandom > '${join(dir, 'aaaa', 'layer.tar')}'`])
  const members = ['aaaa']
  if (o.longPathFirst) {
    const long = join('aaaa', 'x'.repeat(120), 'y'.repeat(60))
    execFileSync('mkdir', ['-p', join(dir, long)])
    // a member named like the index deep inside a long path must not be taken for it
    execFileSync('sh', ['-c', `echo '[]' > '${join(dir, long, 'manifest.json')}'`])
  }
  execFileSync('sh', ['-c', `printf '%s' '${JSON.stringify([{ Config: 'cfg.json', RepoTags: tags, Layers: ['aaaa/layer.tar'] }])}' > '${join(dir, 'manifest.json')}'`])
  members.push('manifest.json')
  const out = join(work, `${name}.tar${o.gzip ? '.gz' : ''}`)
  execFileSync('tar', [o.gzip ? '-czf' : '-cf', out, ...(o.longPathFirst ? ['--format=pax'] : []), '-C', dir, ...members])
  return out
}

/** An OCI archive (as `ctr images export` writes one): names in index.json's annotations, members under ./ . */
function ociArchive(name: string, images: string[]): string {
  const dir = join(work, `${name}.d`)
  execFileSync('mkdir', ['-p', join(dir, 'blobs', 'sha256')])
  const index = { schemaVersion: 2, manifests: images.map((i) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:00', size: 1, annotations: { 'io.containerd.image.name': i, 'org.opencontainers.image.ref.name': i.split(':').pop() } })) }
  execFileSync('sh', ['-c', `printf '%s' '${JSON.stringify(index)}' > '${join(dir, 'index.json')}'; echo '{"imageLayoutVersion":"1.0.0"}' > '${join(dir, 'oci-layout')}'; head -c 2000 /dev/urandom > '${join(dir, 'blobs', 'sha256', '00')}'`])
  const out = join(work, `${name}.tar`)
  execFileSync('tar', ['-cf', out, '-C', dir, './oci-layout', './blobs', './index.json'])
  return out
}

const facts = (over: Partial<HostFacts> = {}): HostFacts => ({ ...hostedRunner, ...over })
const planFor = (c: ReturnType<typeof config>, f: HostFacts = facts()) => buildPlan({ config: c, facts: f, version: V, paths: HOST_PATHS })
const local = (inputs: Record<string, string> = {}) =>
  config({ 'kubernetes-version': V, offline: 'true', 'kubernetes-release-url': pathToFileURL(join(releaseDir, 'release')).href, 'github-url': pathToFileURL(join(releaseDir, 'gh')).href, ...inputs })
const check = (c: ReturnType<typeof config>, f: HostFacts = facts()) => offlineProblems(c, f, V, planFor(c, f))

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ksn-offline-'))
  // the test release (host-tree's routes) laid out as files: what a file:// URL serves
  releaseDir = join(work, 'mirror')
  for (const [path, route] of Object.entries(await releaseRoutes())) {
    if (typeof route === 'function' || path === '/') continue
    await mkdir(dirname(join(releaseDir, path)), { recursive: true })
    await writeFile(join(releaseDir, path), route.body)
  }
})

describe('image archives read without extracting them', () => {
  it("reads a docker-save manifest.json's RepoTags, normalized as the store names them", async () => {
    const p = dockerSave('plain', ['nginx:stable-alpine', 'registry.k8s.io/pause:3.10.1'], { layerBytes: 2_000_000 })
    assert.deepEqual(await archiveIndexNames(p), ['docker.io/library/nginx:stable-alpine', 'registry.k8s.io/pause:3.10.1'])
  })

  it('reads a gzip-compressed one, and one whose long member names need pax headers', async () => {
    assert.deepEqual(await archiveIndexNames(dockerSave('gz', ['ghcr.io/flannel-io/flannel:v0.28.9'], { gzip: true, layerBytes: 100_000 })), ['ghcr.io/flannel-io/flannel:v0.28.9'])
    assert.deepEqual(await archiveIndexNames(dockerSave('pax', ['registry.k8s.io/etcd:3.6.5-0'], { longPathFirst: true })), ['registry.k8s.io/etcd:3.6.5-0'])
  })

  it("reads an OCI index.json's image names under ./", async () => {
    assert.deepEqual(await archiveIndexNames(ociArchive('oci', ['registry.k8s.io/coredns/coredns:v1.12.1'])), ['registry.k8s.io/coredns/coredns:v1.12.1'])
  })

  it('refuses a file that is not an image archive, or not a tar at all', async () => {
    const noIndex = join(work, 'noindex.tar')
    execFileSync('tar', ['-cf', noIndex, '-C', work, 'mirror'])
    await assert.rejects(archiveIndexNames(noIndex), /neither a docker-save nor an OCI image archive/)
    const text = join(work, 'text.tar')
    await writeFile(text, 'x'.repeat(2000))
    await assert.rejects(archiveIndexNames(text), /could not be read as a tar archive/)
  })

  it('names the input and the file for a malformed archive, before anything changes', async () => {
    // a tar whose first member's size field is '-1' (the reader once looped forever on it)
    const bad = join(work, 'negative.tar')
    const good = await readFile(dockerSave('neg', ['registry.k8s.io/pause:3.10.1']))
    good.write('-1\0         ', 124, 'latin1')
    await writeFile(bad, good)
    const p = await check(local({ 'image-archives': bad }))
    assert.ok(
      p.includes(`Input 'image-archives' has the path ${JSON.stringify(bad)}, which is not an image archive: it could not be read as a tar archive (not a tar archive); accepted: a docker save or OCI image archive (tar, or gzipped tar).`),
      p.join('\n')
    )
  })
})

describe('offline: every piece proven local before anything changes', () => {
  it('finds nothing missing when the archives bring every image and the downloads are files here', async () => {
    const c = local({ 'image-archives': `${dockerSave('all', ALL_IMAGES.slice(0, 5))}\n${ociArchive('rest', ALL_IMAGES.slice(5))}` })
    assert.deepEqual(await check(c), [])
  })

  it('lists every missing piece at once, each with the input that provides it', async () => {
    const c = config({ 'kubernetes-version': V, offline: 'true', 'image-archives': dockerSave('some', ['registry.k8s.io/pause:3.10.1', 'docker.io/library/nginx:stable-alpine']) })
    const problems = await check(c, facts({ containerd: undefined, missingPackages: ['conntrack', 'socat'] }))
    const find = (re: RegExp): string => problems.find((p) => re.test(p)) ?? assert.fail(`no problem matching ${re}:\n${problems.join('\n')}`)
    assert.match(find(/^Input 'kubernetes-release-url'/), /"https:\/\/dl\.k8s\.io\/release", which is not on this machine.*kubeadm, kubelet, kubectl would be downloaded from it.*accepted with offline: a file:\/\/ URL/)
    // crictl, the plugins, the action's own containerd (no containerd here) and the manifest, from one input
    assert.match(find(/^Input 'github-url'/), /crictl, cni-plugins, containerd, the flannel manifest v0\.28\.9 would be downloaded/)
    for (const image of ALL_IMAGES.filter((i) => !/pause|nginx/.test(i))) assert.match(find(new RegExp(`^Image ${image.replace(/[.]/g, '\\.')} `)), /in none of the archives of input 'image-archives'/)
    assert.match(find(/^Image registry\.k8s\.io\/etcd/), /asked for by kubeadm/)
    assert.match(find(/^Image ghcr\.io\/flannel-io\/flannel:/), /asked for by flannel's manifest/)
    // conntrack is missing too, but kubeadm 1.34 does not need it: not installed, so not asked for
    assert.match(find(/apt-get/), /would install docker\.io with apt-get.*no input provides packages/)
    assert.equal(problems.length, 2 + 8 + 1, problems.join('\n'))
  })

  it('names a file the local release lacks, and its checksum file', async () => {
    const base = join(work, 'partial')
    execFileSync('cp', ['-a', releaseDir, base])
    execFileSync('rm', [join(base, 'release/v1.34.2/bin/linux/amd64/kubelet'), join(base, 'gh/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz.sha256')])
    const c = local({ 'kubernetes-release-url': pathToFileURL(join(base, 'release')).href, 'github-url': pathToFileURL(join(base, 'gh')).href, 'image-archives': dockerSave('all2', ALL_IMAGES) })
    const problems = await check(c)
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.match(problems[0], /^Kubelet is not at file:\/\/.*\/kubelet \(no such file\); it comes from input 'kubernetes-release-url'/)
    assert.match(problems[1], /^The published checksum of cni-plugins is not at .*\.tgz\.sha256 \(no such file\); it comes from input 'github-url'/)
  })

  it('asks a loopback mirror, and only it, whether it has each file', async () => {
    const routes = await releaseRoutes()
    delete routes['/release/v1.34.2/bin/linux/amd64/kubectl']
    const server = await serve(routes)
    try {
      const c = local({ 'kubernetes-release-url': `${server.url}/release`, 'github-url': `${server.url}/gh`, 'image-archives': dockerSave('all3', ALL_IMAGES) })
      const problems = await check(c)
      assert.deepEqual(problems, [`Kubectl is not at ${server.url}/release/v1.34.2/bin/linux/amd64/kubectl (HTTP 404); it comes from input 'kubernetes-release-url', which must hold it with offline: true.`])
    } finally {
      await server.close()
    }
  })

  it("takes cri-dockerd from the local mirror with the .sha256 it keeps beside it: the pinned digest binds only mirrors elsewhere", async () => {
    const routes = await releaseRoutes()
    const server = await serve(routes)
    try {
      const gh = `${server.url}/gh`
      const c = local({ 'kubernetes-release-url': `${server.url}/release`, 'github-url': gh, 'image-archives': dockerSave('all4', ALL_IMAGES), 'container-runtime': 'docker' })
      const f = facts({ dockerEngine: { version: '28.0.4', major: 28, cgroupDriver: 'systemd', via: 'user' } })
      const archive = new URL(criDockerdArtifact(gh, 'amd64').url).pathname
      routes[archive] = { body: 'cri-dockerd archive' }
      assert.match((await check(c, f)).join('\n'), /The published checksum of cri-dockerd is not at .*cri-dockerd-0\.3\.26\.amd64\.tgz\.sha256 \(HTTP 404\); it comes from input 'github-url'/)
      routes[`${archive}.sha256`] = { body: `${createHash('sha256').update('cri-dockerd archive').digest('hex')}  cri-dockerd-0.3.26.amd64.tgz\n` }
      assert.deepEqual(await check(c, f), [])
      assert.ok(!server.hits.some((h) => !h.startsWith('/release') && !h.startsWith('/gh')), `only the loopback mirror was asked: ${server.hits.join(', ')}`)
    } finally {
      await server.close()
    }
  })

  it('counts an image-retags TARGET as provided by its SOURCE, and reads a local cni-manifest for its images', async () => {
    const manifest = join(work, 'flannel.yml')
    await writeFile(manifest, FLANNEL_MANIFEST.replace('ghcr.io/flannel-io/flannel:v0.28.9', 'quay.io/example/flannel:v9'))
    const archive = dockerSave('retag', [...ALL_IMAGES.filter((i) => !/coredns|flannel:/.test(i)), 'docker.io/coredns/coredns:1.12.1', 'quay.io/example/flannel:v9'])
    const c = local({ 'image-archives': archive, 'cni-manifest': manifest, 'image-retags': 'docker.io/coredns/coredns:1.12.1=registry.k8s.io/coredns/coredns:v1.12.1' })
    assert.deepEqual(await check(c), [])
    // without the retag, kubeadm's coredns is missing; a SOURCE no archive has is named as such
    assert.deepEqual(
      (await check(local({ 'image-archives': archive, 'cni-manifest': manifest }))).map((p) => p.split(' (')[0]),
      ['Image registry.k8s.io/coredns/coredns:v1.12.1']
    )
    const p = await check(local({ 'image-archives': archive, 'cni-manifest': manifest, 'image-retags': 'docker.io/coredns/coredns:9.9=registry.k8s.io/coredns/coredns:v1.12.1' }))
    assert.match(p[0], /^Image docker\.io\/coredns\/coredns:9\.9 \(asked for by image-retags, for registry\.k8s\.io\/coredns\/coredns:v1\.12\.1\)/)
  })

  it('refuses a cni-manifest URL (its images cannot be known) and a version the table lacks', async () => {
    const archive = dockerSave('all4', ALL_IMAGES)
    const p = await check(local({ 'image-archives': archive, 'cni-manifest': 'http://127.0.0.1:1/kube-flannel.yml' }))
    assert.ok(p.some((x) => /^Input 'cni-manifest' is a URL .*accepted with offline: a local path/.test(x)), p.join('\n'))
    const c = local({ 'image-archives': archive, 'kubernetes-version': 'v1.99.0' })
    const f = facts()
    const q = await offlineProblems(c, f, 'v1.99.0', buildPlan({ config: c, facts: f, version: 'v1.99.0', paths: HOST_PATHS }))
    assert.ok(q.some((x) => /^kubeadm's images for v1\.99\.0 are not in this action's version table/.test(x)), q.join('\n'))
  })

  it('is no check at all without offline, and joins the preflight with it', async () => {
    const c = config({ 'kubernetes-version': V })
    assert.deepEqual(await check(c), [])
    const off = config({ 'kubernetes-version': V, offline: 'true' })
    const all = await preflight(off, facts(), HOST_PATHS, planFor(off), V, createRun({ debug: () => {} }))
    assert.ok(all.some((p) => /^Image registry\.k8s\.io\/pause/.test(p)) && all.some((p) => /^Input 'github-url'/.test(p)), all.join('\n'))
  })
})

describe('offline inputs', () => {
  it('wants an exact version: stable and a minor are lookups over the network', () => {
    for (const v of ['stable', '1.34']) {
      assert.throws(
        () => config({ offline: 'true', 'kubernetes-version': v }),
        (e: InputError) => e.problems.some((p) => p === `Input 'kubernetes-version' has the value "${v}", which is looked up over the network, and 'offline' is true; accepted with offline: an exact release such as 'v1.34.2'.`)
      )
    }
    assert.equal(config({ offline: 'true', 'kubernetes-version': 'v1.34.2' }).offline, true)
    assert.equal(config().offline, false)
    assert.throws(() => config({ offline: 'yes' }), /Input 'offline' has the value "yes"; accepted: 'true' or 'false'/)
  })

  it('takes a file:// URL of this machine for the two download inputs, and no other host', () => {
    assert.equal(config({ 'kubernetes-release-url': 'file:///srv/release/' }).kubernetesReleaseUrl, 'file:///srv/release')
    assert.equal(config({ 'github-url': 'file:///srv/gh' }).githubUrl, 'file:///srv/gh')
    assert.throws(() => config({ 'github-url': 'file:///' }), /Input 'github-url' has the value "file:\/\/\/"/)
    assert.throws(() => config({ 'github-url': 'file://fileserver/share' }), /Input 'github-url' has the value "file:\/\/fileserver\/share"; accepted: .*a file:\/\/ URL of a directory on this machine/)
    assert.throws(() => config({ 'registry-mirrors': 'docker.io=file:///srv/registry' }), /Input 'registry-mirrors'/)
  })

  it('knows which URLs are this machine', () => {
    for (const u of ['file:///srv/x', 'http://127.0.0.1:8080/r', 'http://127.1.2.3/', 'https://localhost/x', 'http://[::1]:5000/']) assert.equal(isLocalUrl(u), true, u)
    for (const u of ['https://dl.k8s.io/release', 'http://10.0.0.1/', 'file://nas/share', 'http://127.0.0.1.example.com/', 'ftp://127.0.0.1/']) assert.equal(isLocalUrl(u), false, u)
  })
})

describe('downloads from a file:// URL', () => {
  it('are verified against their checksum file like any other, and the original is left in place', async () => {
    process.env.RUNNER_TEMP = await mkdtemp(join(tmpdir(), 'ksn-offline-temp-'))
    const url = pathToFileURL(join(releaseDir, 'release/v1.34.2/bin/linux/amd64/kubeadm')).href
    const path = await downloadVerified({ name: 'kubeadm', url, checksumUrl: `${url}.sha256`, input: 'kubernetes-release-url' })
    assert.equal(await readFile(path, 'utf8'), await readFile(new URL(url), 'utf8'))
    assert.notEqual(path, new URL(url).pathname)
    const evil = join(work, 'evil')
    await writeFile(evil, 'tampered')
    await writeFile(`${evil}.sha256`, `${'0'.repeat(64)}\n`)
    await assert.rejects(downloadVerified({ name: 'evil', url: pathToFileURL(evil).href, checksumUrl: pathToFileURL(`${evil}.sha256`).href, input: 'github-url' }), ChecksumError)
    assert.equal(await readFile(evil, 'utf8'), 'tampered', "the user's file is not deleted, only the copy")
  })
})

describe('the preload with offline', () => {
  it('pulls nothing: an image no archive brought stops it, named with the archives input', async () => {
    const pulls: string[] = []
    const store: ImageStore = {
      list: async () => new Set(['registry.k8s.io/pause:3.10.1']),
      pull: async (r) => void pulls.push(r),
      importArchive: async () => [],
      tag: async () => {},
      remove: async () => {},
      exportArchive: async () => {}
    }
    await assert.rejects(
      preloadImages(store, { images: ['registry.k8s.io/pause:3.10.1', 'registry.k8s.io/etcd:3.6.5-0'], pull: false }),
      /offline is true, and registry\.k8s\.io\/etcd:3\.6\.5-0 is neither in the runtime nor brought by any archive of input 'image-archives'; nothing was pulled/
    )
    assert.deepEqual(pulls, [])
    assert.deepEqual((await preloadImages(store, { images: ['registry.k8s.io/pause:3.10.1'], pull: false })).present, ['registry.k8s.io/pause:3.10.1'])
  })
})
