// cni: calico. The renderer and the image extraction run on a trimmed copy of Calico's real
// manifest (__tests__/fixtures/calico.yaml, its source in its header); the plan is the dry
// run's; the config step fetches that manifest from a loopback server as it would from GitHub.
// What calico-node leaves on the host, and its undo, is proven in undo.test.ts.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { CALICO, calico } from '../src/cnis/calico/plugin.js'
import { renderCalicoManifest } from '../src/cnis/calico/manifest.js'
import { allHints } from '../src/commands/diagnose.js'
import { renderPlan } from '../src/engine/describe.js'
import { hintsFor } from '../src/engine/diagnostics.js'
import { execute } from '../src/engine/execute.js'
import type { Learned } from '../src/engine/learned.js'
import type { Host } from '../src/host/host.js'
import { isMountPoint } from '../src/host/host.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { buildPlan } from '../src/phases/index.js'
import { config, hostedRunner } from './helpers/facts.js'
import { FLANNEL_MANIFEST } from './helpers/host-tree.js'
import { nonLoopbackAddress, serve, type TestServer } from './helpers/http.js'

const UPSTREAM = readFileSync('__tests__/fixtures/calico.yaml', 'utf8')
const docs = (text: string): Array<Record<string, any>> => parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o)
const calicoNode = (objs: Array<Record<string, any>>): Record<string, any> =>
  objs.find((o) => o.kind === 'DaemonSet')!.spec.template.spec.containers.find((c: { name: string }) => c.name === 'calico-node')
const plan = (inputs: Record<string, string> = {}) => buildPlan({ config: config({ cni: 'calico', ...inputs }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })

describe("calico's manifest, rendered", () => {
  it("sets calico-node's default pool to the pod CIDR, once, and changes nothing else", () => {
    const rendered = renderCalicoManifest(UPSTREAM, '10.32.0.0/16')
    const before = docs(UPSTREAM)
    const after = docs(rendered.manifest)
    const env = calicoNode(after).env as Array<{ name: string; value?: string }>
    assert.deepEqual(env.filter((e) => e.name === 'CALICO_IPV4POOL_CIDR'), [{ name: 'CALICO_IPV4POOL_CIDR', value: '10.32.0.0/16' }])
    // upstream leaves it commented out, so calico-node would guess
    assert.equal((calicoNode(before).env as Array<{ name: string }>).some((e) => e.name === 'CALICO_IPV4POOL_CIDR'), false)
    assert.deepEqual(env.filter((e) => e.name !== 'CALICO_IPV4POOL_CIDR'), calicoNode(before).env)
    calicoNode(after).env = calicoNode(before).env
    assert.deepEqual(after, before, 'every other document and field as upstream has it')
    assert.equal(calicoNode(before).env.find((e: { name: string }) => e.name === 'CALICO_IPV4POOL_IPIP').value, 'Always', 'the pool upstream makes uses IPIP: tunl0, not vxlan.calico')
  })

  it("learns every image the manifest's pods run, init containers too, each once", () => {
    assert.deepEqual(renderCalicoManifest(UPSTREAM, '10.244.0.0/16').images, ['quay.io/calico/cni:v3.32.1', 'quay.io/calico/node:v3.32.1', 'quay.io/calico/kube-controllers:v3.32.1'])
  })

  it("predicts the pinned release's images as the manifest names them, with the release's tag", () => {
    const upstream = renderCalicoManifest(UPSTREAM, '10.244.0.0/16').images.map((i) => i.replace(/:v3\.32\.1$/, `:${CALICO.version}`))
    assert.deepEqual(calico.predictedImages(config({ cni: 'calico' })), upstream)
    assert.deepEqual(calico.predictedImages(config({ cni: 'calico', 'cni-version': 'v3.31.4' })), [], 'another release is read from its manifest')
    assert.deepEqual(calico.predictedImages(config({ cni: 'calico', 'cni-manifest': '/tmp/calico.yaml' })), [])
  })

  it('replaces a pool CIDR a given manifest sets, rather than adding a second', () => {
    const own = UPSTREAM.replace('# - name: CALICO_IPV4POOL_CIDR\n            #   value: "192.168.0.0/16"', '- name: CALICO_IPV4POOL_CIDR\n              value: "192.168.0.0/16"')
    assert.notEqual(own, UPSTREAM)
    const env = calicoNode(docs(renderCalicoManifest(own, '10.244.0.0/16').manifest)).env as Array<{ name: string; value?: string }>
    assert.deepEqual(env.filter((e) => e.name === 'CALICO_IPV4POOL_CIDR'), [{ name: 'CALICO_IPV4POOL_CIDR', value: '10.244.0.0/16' }])
  })

  it('refuses what is not a calico manifest, and what is not YAML', () => {
    assert.throws(() => renderCalicoManifest(FLANNEL_MANIFEST, '10.244.0.0/16'), /no calico-node DaemonSet with a calico-node container; is it calico\.yaml\?/)
    assert.throws(() => renderCalicoManifest('kind: [', '10.244.0.0/16'), /the calico manifest is not valid YAML/)
  })
})

describe('cni: calico in the dry run', () => {
  it("fetches the pinned release's manifest, sets the pool, preloads its images, applies it, and waits in kube-system", () => {
    const p = plan()
    const text = renderPlan(p.steps, p.learned)
    assert.match(text, /config\.cni: calico manifest \(v3\.32\.1\), CALICO_IPV4POOL_CIDR = 10\.244\.0\.0\/16/)
    assert.match(text, /GET https:\/\/github\.com\/projectcalico\/calico\/raw\/v3\.32\.1\/manifests\/calico\.yaml/)
    assert.match(text, /set calico-node's CALICO_IPV4POOL_CIDR to 10\.244\.0\.0\/16; write \/etc\/kubeadm-single-node\/cni\.yaml/)
    for (const image of CALICO.images(CALICO.version)) assert.match(text, new RegExp(`images pull --local --hosts-dir /etc/containerd/certs\\.d ${image.replace(/\./g, '\\.')}`))
    assert.match(text, /network\.cni: apply calico/)
    assert.match(text, /kubectl apply -f \/etc\/kubeadm-single-node\/cni\.yaml/)
    assert.doesNotMatch(text, /kube-flannel|flannel-io/)
    assert.match(text, /first unmounts, where nothing was mounted, \/run\/calico\/cgroup, \/sys\/fs\/bpf/)
    assert.match(text, /\/var\/lib\/calico, \/run\/calico, \/var\/log\/calico, \/run\/nodeagent/)
    assert.deepEqual(calico.readiness, { nodeReady: true, namespaces: ['kube-system'] })
    assert.equal(p.steps.some((s) => s.id === 'smoke.check'), true, 'calico carries pods: nginx is deployed')
  })

  it('takes a named release from its tag, and says the images are read from its manifest', () => {
    const p = plan({ 'cni-version': '3.31.4' })
    const text = renderPlan(p.steps, p.learned)
    assert.match(text, /GET https:\/\/github\.com\/projectcalico\/calico\/raw\/v3\.31\.4\/manifests\/calico\.yaml/)
    assert.match(text, /calico manifest \(v3\.31\.4 \(cni-version\)\)/)
    assert.match(text, /images: \(read from the manifest\)/)
  })

  it('fetches through github-url and mirror-preset, and pulls quay.io through its mirror', () => {
    const text = renderPlan(plan({ 'mirror-preset': 'china' }).steps, plan({ 'mirror-preset': 'china' }).learned)
    assert.match(text, /GET https:\/\/files\.m\.daocloud\.io\/github\.com\/projectcalico\/calico\/raw\/v3\.32\.1\/manifests\/calico\.yaml/)
    assert.ok(text.includes('write /etc/containerd/certs.d/quay.io/hosts.toml'))
    assert.ok(text.includes('[host."https://quay.m.daocloud.io"]'))
    // image-repository is kubeadm's: calico's images keep their names, as flannel's do
    assert.match(text, /images pull --local --hosts-dir \/etc\/containerd\/certs\.d quay\.io\/calico\/node:v3\.32\.1/)
    const ghes = renderPlan(plan({ 'github-url': 'https://ghes.example' }).steps, plan().learned)
    assert.match(ghes, /GET https:\/\/ghes\.example\/projectcalico\/calico\/raw\/v3\.32\.1\/manifests\/calico\.yaml/)
  })

  it("takes flannel's named release from the file of its tag too", () => {
    const p = buildPlan({ config: config({ 'cni-version': 'v0.27.4' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const text = renderPlan(p.steps, p.learned)
    assert.match(text, /GET https:\/\/github\.com\/flannel-io\/flannel\/raw\/v0\.27\.4\/Documentation\/kube-flannel\.yml/)
    assert.doesNotMatch(text, /pinned for the release's manifest/, 'another release than the pinned one has no pin')
    assert.match(text, /flannel manifest \(v0\.27\.4 \(cni-version\)\)/)
    assert.deepEqual(p.learned.cniImages, [], "its CNI plugin image has a tag of its own: read from the manifest")
  })

  it('reads a given manifest instead', () => {
    const text = renderPlan(plan({ 'cni-manifest': '/tmp/my calico.yaml' }).steps, plan().learned)
    assert.match(text, /read \/tmp\/my calico\.yaml/)
    assert.match(text, /calico manifest \(given\)/)
  })
})

describe('cni: calico at run time', () => {
  let server: TestServer
  const saved = { ...process.env }
  before(async () => {
    server = await serve({ '/gh/projectcalico/calico/raw/v3.32.1/manifests/calico.yaml': { body: UPSTREAM } })
    // the tool cache downloads into the runner's temporary directory
    process.env.RUNNER_TEMP = await mkdtemp(join(tmpdir(), 'ksn-calico-'))
  })
  after(async () => {
    process.env = saved
    await server.close()
  })

  it('fetches the manifest through github-url, writes it rendered, and learns its images for the preload', async () => {
    const p = buildPlan({ config: config({ cni: 'calico', 'github-url': `${server.url}/gh`, 'pod-network-cidr': '10.32.0.0/16' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const written = new Map<string, string>()
    const host = { writeFile: async (path: string, content: string) => void written.set(path, content) } as unknown as Host
    const learned: Learned = { ...p.learned, cniImages: [] }
    const step = p.steps.find((s) => s.id === 'config.cni')!
    await execute([{ ...step, needs: [] }], { host, learned })
    assert.deepEqual(server.hits, ['/gh/projectcalico/calico/raw/v3.32.1/manifests/calico.yaml'])
    assert.deepEqual(learned.cniImages, ['quay.io/calico/cni:v3.32.1', 'quay.io/calico/node:v3.32.1', 'quay.io/calico/kube-controllers:v3.32.1'])
    const env = calicoNode(docs(written.get('/etc/kubeadm-single-node/cni.yaml')!)).env as Array<{ name: string; value?: string }>
    assert.equal(env.find((e) => e.name === 'CALICO_IPV4POOL_CIDR')?.value, '10.32.0.0/16')
  })

  it('names what it leaves: install-cni\'s files, calico-node\'s directories, its cgroup2 mount; not tunl0', () => {
    const left = calico.leftovers(HOST_PATHS)
    for (const f of ['/etc/cni/net.d/10-calico.conflist', '/etc/cni/net.d/calico-kubeconfig', '/opt/cni/bin/calico', '/opt/cni/bin/calico-ipam', '/opt/cni/bin/install']) assert.ok(left.files.includes(f), f)
    assert.deepEqual(left.dirs, ['/var/lib/calico', '/run/calico', '/var/log/calico', '/run/nodeagent', '/var/lib/cni'])
    assert.deepEqual(left.mounts, ['/run/calico/cgroup', '/sys/fs/bpf'])
    assert.equal(left.interfaces.includes('tunl0'), false, 'the ipip module keeps tunl0: it cannot be deleted')
  })

  it('reads the mount table as the kernel writes it, spaces escaped', async () => {
    const table = join(await mkdtemp(join(tmpdir(), 'ksn-mounts-')), 'mounts')
    await writeFile(table, 'cgroup2 /run/calico/cgroup cgroup2 rw,relatime 0 0\nbpf /sys/fs/bpf bpf rw 0 0\ntmpfs /mnt/my\\040disk tmpfs rw 0 0\n')
    assert.equal(await isMountPoint(table, '/run/calico/cgroup'), true)
    assert.equal(await isMountPoint(table, '/run/calico'), false)
    assert.equal(await isMountPoint(table, '/mnt/my disk'), true)
  })
})

describe("calico's diagnostics", () => {
  const hints = allHints('containerd', 'calico')
  // the CNI plugin's own messages, as kubelet events carry them
  for (const [message, hint] of [
    ['plugin type="calico" failed (add): stat /var/lib/calico/nodename: no such file or directory: check that the calico/node container is running and has mounted /var/lib/calico/', /calico-node has not started on the node/],
    ['plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized', /calico-kubeconfig is not this cluster's/],
    ['failed to find plugin "calico" in path [/opt/cni/bin]', /install-cni init container has not copied its plugins/]
  ] as const) {
    it(`explains ${JSON.stringify(message.slice(0, 60))}…`, () => assert.ok(hintsFor(hints, message).some((h) => hint.test(h)), hintsFor(hints, message).join('\n')))
  }

  it("shows calico-node's and calico-kube-controllers' logs", () => {
    const probes = calico.diagnostics(HOST_PATHS, '/usr/local/bin/kubectl', '/home/runner/.kube/config')
    assert.deepEqual(probes.map((p) => p.argv.slice(1).join(' ')), [
      'logs -n kube-system -l k8s-app=calico-node --all-containers --tail 40',
      'logs -n kube-system -l k8s-app=calico-kube-controllers --tail 20'
    ])
  })
})

describe("flannel's pinned manifest at run time", () => {
  const saved = { ...process.env }
  after(() => {
    process.env = saved
  })

  /** config.cni run against a github-url on `host` serving `body` as the pinned manifest. */
  async function fetchFrom(host: string, body: string): Promise<{ error?: Error; images: string[]; hits: string[] }> {
    const server = await serve({ '/gh/flannel-io/flannel/raw/v0.28.9/Documentation/kube-flannel.yml': { body } }, host)
    process.env.RUNNER_TEMP = await mkdtemp(join(tmpdir(), 'ksn-flannel-'))
    try {
      // a URL the inputs would refuse over plain http: set directly, as an https mirror would be
      const c = { ...config({ 'pod-network-cidr': '10.32.0.0/16' }), githubUrl: `${server.url}/gh` }
      const p = buildPlan({ config: c, facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
      const host = { writeFile: async () => {} } as unknown as Host
      const learned: Learned = { ...p.learned, cniImages: [] }
      const error = await execute([{ ...p.steps.find((s) => s.id === 'config.cni')!, needs: [] }], { host, learned }).then(
        () => undefined,
        (err: Error) => err
      )
      return { error, images: learned.cniImages, hits: [...server.hits] }
    } finally {
      await server.close()
    }
  }

  it('refuses a manifest a mirror changed, before anything is applied; a mirror on this machine is held to nothing but its own copy', async (t) => {
    const addr = nonLoopbackAddress()
    if (!addr) return t.skip('no non-loopback IPv4 address here to serve a remote-looking mirror from')
    // the pinned digest is of the file upstream: this stand-in is not it, as a changed copy would not be
    const changed = FLANNEL_MANIFEST.replace('ghcr.io/flannel-io/flannel:v0.28.9', 'ghcr.io/attacker/flannel:v0.28.9')
    const remote = await fetchFrom(addr, changed)
    assert.match(remote.error?.message ?? '', /The flannel manifest from http:\/\/.*kube-flannel\.yml has SHA-256 [0-9a-f]{64}, but the action pins e875824be2f5\w+ for v0\.28\.9\. Nothing was applied\. Set github-url/)
    assert.deepEqual(remote.images, [], 'nothing learned from it')
    const local = await fetchFrom('127.0.0.1', FLANNEL_MANIFEST)
    assert.equal(local.error, undefined)
    assert.ok(local.images.includes('ghcr.io/flannel-io/flannel:v0.28.9'))
  })
})

describe("Calico's pinned manifest at run time", () => {
  const saved = { ...process.env }
  after(() => {
    process.env = saved
  })

  it('refuses a manifest a mirror elsewhere changed, before anything is applied; one on this machine is its own', async (t) => {
    const addr = nonLoopbackAddress()
    if (!addr) return t.skip('no non-loopback IPv4 address here to serve a remote-looking mirror from')
    const run = async (host: string, body: string): Promise<{ error?: Error; images: string[] }> => {
      const server = await serve({ [`/gh/projectcalico/calico/raw/${CALICO.version}/manifests/calico.yaml`]: { body } }, host)
      process.env.RUNNER_TEMP = await mkdtemp(join(tmpdir(), 'ksn-calico-pin-'))
      try {
        // a URL the inputs would refuse over plain http: set directly, as an https mirror would be
        const c = { ...config({ cni: 'calico', 'pod-network-cidr': '10.32.0.0/16' }), githubUrl: `${server.url}/gh` }
        const p = buildPlan({ config: c, facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
        const learned: Learned = { ...p.learned, cniImages: [] }
        const error = await execute([{ ...p.steps.find((s) => s.id === 'config.cni')!, needs: [] }], { host: { writeFile: async () => {} } as unknown as Host, learned }).then(
          () => undefined,
          (err: Error) => err
        )
        return { error, images: learned.cniImages }
      } finally {
        await server.close()
      }
    }
    // the trimmed fixture is not the upstream file, as a changed copy would not be
    const remote = await run(addr, UPSTREAM)
    assert.match(remote.error?.message ?? '', new RegExp(`The calico manifest from http://.*calico\\.yaml has SHA-256 [0-9a-f]{64}, but the action pins ${CALICO.manifestSha256} for ${CALICO.version.replace(/\./g, '\\.')}\\. Nothing was applied`))
    assert.deepEqual(remote.images, [])
    const local = await run('127.0.0.1', UPSTREAM)
    assert.equal(local.error, undefined)
    assert.ok(local.images.includes(`quay.io/calico/node:${CALICO.version}`))
  })
})
