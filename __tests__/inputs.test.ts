import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { DEFAULTS } from '../src/config/defaults.js'
import { InputError, MAX_TIMEOUT_SECONDS, MIRROR_PRESET_FORMS, parseDuration, parseInputs, parseVersionSpec, RETAG_FORM, VERSION_FORMS, type Config } from '../src/inputs/parse.js'
import { INPUTS } from '../src/inputs/table.js'
import { MIRROR_PRESET_NAMES, MIRROR_PRESETS } from '../src/config/presets.js'

const parseWith = (inputs: Record<string, string>): Config => parseInputs((n) => inputs[n] ?? '')
const problemsOf = (inputs: Record<string, string>): string[] => {
  try {
    parseWith(inputs)
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`)
    return err.problems
  }
  assert.fail('expected the inputs to be refused')
}

describe('inputs', () => {
  it('gives working defaults when nothing is set', () => {
    const c = parseWith({})
    assert.deepEqual(c.kubernetesVersion, { kind: 'stable' })
    assert.equal(c.containerRuntime, 'containerd')
    assert.equal(c.cni, 'flannel')
    assert.equal(c.podNetworkCidr, '10.244.0.0/16')
    assert.equal(c.serviceCidr, '10.96.0.0/12')
    assert.equal(c.imageRepository, 'registry.k8s.io')
    assert.equal(c.untaint, true)
    assert.equal(c.smokeTest, true)
    assert.equal(c.smokeTestImage, 'docker.io/library/nginx:stable-alpine')
    assert.equal(c.timeoutSeconds, 300)
    assert.equal(c.dryRun, false)
    assert.deepEqual(c.registryMirrors, [])
  })

  it("keeps action.yml's runtime: node24, with a post step", () => {
    // its inputs are written from the input table and checked in input-docs.test.ts
    const action = parse(readFileSync('action.yml', 'utf8'))
    assert.equal(action.runs.using, 'node24')
    assert.equal(action.runs.main, 'dist/index.js')
    assert.equal(action.runs.post, 'dist/post.js')
    assert.equal(DEFAULTS.kubernetesVersion, String(action.inputs['kubernetes-version'].default))
  })

  it('accepts every documented version form', () => {
    assert.deepEqual(parseVersionSpec('stable'), { kind: 'stable' })
    assert.deepEqual(parseVersionSpec('1.34'), { kind: 'minor', minor: 34 })
    assert.deepEqual(parseVersionSpec('v1.34'), { kind: 'minor', minor: 34 })
    assert.deepEqual(parseVersionSpec('v1.34.2'), { kind: 'exact', version: 'v1.34.2' })
    assert.deepEqual(parseVersionSpec('1.34.2'), { kind: 'exact', version: 'v1.34.2' })
    assert.deepEqual(parseVersionSpec('1.35.0-rc.1'), { kind: 'exact', version: 'v1.35.0-rc.1' })
  })

  for (const bad of ['1', 'v2.0.0', '1.34.x', 'latest-1.34', '1.20', 'v1.27.3', '1.34.2;rm -rf /', ' 1.34 2']) {
    it(`refuses kubernetes-version ${JSON.stringify(bad)}, naming the input and the accepted forms`, () => {
      const [p] = problemsOf({ 'kubernetes-version': bad })
      assert.match(p, /^Input 'kubernetes-version' has the value /)
      assert.ok(p.includes(JSON.stringify(bad.trim())), p)
      assert.ok(p.endsWith(`; accepted: ${VERSION_FORMS}.`), p)
    })
  }

  it('accepts exactly the version forms its error text names', () => {
    // every quoted example in the text parses; 'latest' is named as the alias it is
    const named = [...VERSION_FORMS.matchAll(/'([^']+)'/g)].map((m) => m[1])
    assert.deepEqual(named, ['stable', 'latest', '1.34', 'v1.34', 'v1.34.2', '1.34.2'])
    for (const form of named) assert.doesNotThrow(() => parseVersionSpec(form), form)
    assert.deepEqual(parseVersionSpec('latest'), { kind: 'stable' })
    assert.match(VERSION_FORMS, /'latest' is an alias of it/)
    assert.match(VERSION_FORMS, /a minor such as '1\.34' or 'v1\.34'/)
    const described = String(parse(readFileSync('action.yml', 'utf8')).inputs['kubernetes-version'].description)
    for (const form of named) assert.ok(described.includes(`'${form}'`), `action.yml does not name '${form}'`)
  })

  const cases: Array<[string, string, RegExp]> = [
    ['container-runtime', 'cri-o', /accepted: 'containerd'/],
    ['cni', 'weave', /accepted: 'flannel', 'calico', 'bridge', 'none'/],
    ['cni-version', 'v3.32', /a release such as 'v3\.32\.2'/],
    ['cni-version', 'stable', /'latest' \(its newest release/],
    ['cni-version', 'v0.28.9;id', /accepted: '' \(the release the CNI pins: flannel v0\.28\.9, calico v3\.32\.1\)/],
    ['pod-network-cidr', '10.244.0.0', /IPv4 network in CIDR form/],
    ['pod-network-cidr', '10.244.0.0/33', /IPv4 network in CIDR form/],
    ['pod-network-cidr', '300.1.0.0/16', /IPv4 network in CIDR form/],
    ['service-cidr', 'fd00::/108', /IPv4 network in CIDR form/],
    ['service-cidr', '10.96.0.0/30', /prefix length from \/12 to \/28/],
    ['image-repository', 'registry.k8s.io:tag:x', /a registry with an optional path/],
    ['image-repository', 'Registry.K8s.io/UPPER', /a registry with an optional path/],
    ['registry-mirrors', 'docker.io', /REGISTRY=ENDPOINT/],
    ['registry-mirrors', 'docker.io=ftp://mirror', /http:\/\/ or https:\/\/ URL/],
    ['preload-images', 'nginx:1.29,BAD IMAGE', /an image reference/],
    ['smoke-test-image', 'nginx:$(reboot)', /an image reference/],
    ['untaint', 'yes', /'true' or 'false'/],
    ['smoke-test', '1', /'true' or 'false'/],
    ['dry-run', 'maybe', /'true' or 'false'/],
    ['timeout', '0', /a positive duration/],
    ['timeout', '-5m', /a positive duration/],
    ['timeout', 'five minutes', /a positive duration/],
    ['timeout', '5d', /a positive duration/],
    ['timeout', '3601', /at most 1h \(3600 seconds\)/],
    ['timeout', '61m', /at most 1h/],
    ['timeout', '1h0m1s', /at most 1h/],
    ['timeout', '2h', /at most 1h/],
    ['timeout', '99999999999999999999', /at most 1h/],
    ['kubernetes-release-url', 'dl.k8s.io/release', /http:\/\/ or https:\/\/ URL/],
    ['cleanup', 'always', /'auto', 'true', 'false'/]
  ]
  for (const [input, value, accepted] of cases) {
    it(`refuses ${input}=${JSON.stringify(value)}`, () => {
      const problems = problemsOf({ [input]: value })
      assert.equal(problems.length, 1, problems.join('\n'))
      assert.ok(problems[0].includes(`'${input}'`), problems[0])
      assert.match(problems[0], accepted)
    })
  }

  it('refuses credentials in URLs without repeating them', () => {
    const [p] = problemsOf({ 'registry-mirrors': 'docker.io=https://user:s3cret@mirror.example' })
    assert.match(p, /^Input 'registry-mirrors' has the value "https:\/\/\*\*\*:\*\*\*@mirror\.example\/"; accepted: a URL without credentials/)
    assert.equal(p.includes('s3cret') || p.includes('user'), false)
  })

  it('refuses overlapping pod and service networks, naming both', () => {
    const [p] = problemsOf({ 'pod-network-cidr': '10.96.0.0/16', 'service-cidr': '10.96.0.0/12' })
    assert.match(p, /'pod-network-cidr' \(10\.96\.0\.0\/16\) and 'service-cidr' \(10\.96\.0\.0\/12\) overlap/)
  })

  it('reports every bad input at once', () => {
    const problems = problemsOf({ cni: 'weave', timeout: 'soon', untaint: 'nope' })
    assert.equal(problems.length, 3)
    const err = new InputError(problems)
    assert.match(err.message, /^3 inputs are invalid:/)
  })

  it('parses durations', () => {
    assert.equal(parseDuration('timeout', '300'), 300)
    assert.equal(parseDuration('timeout', '300s'), 300)
    assert.equal(parseDuration('timeout', '5m'), 300)
    assert.equal(parseDuration('timeout', '1m30s'), 90)
    assert.equal(parseDuration('timeout', '1h'), 3600)
    assert.equal(parseDuration('timeout', '3600'), MAX_TIMEOUT_SECONDS)
    assert.equal(parseDuration('timeout', '59m60s'), 3600)
  })

  it('parses mirrors, lists and archives', () => {
    const c = parseWith({
      'registry-mirrors': 'docker.io=https://mirror.gcr.io\n# comment\nregistry.k8s.io=https://k8s.m.daocloud.io http://127.0.0.1:5000\ndocker.io=https://second.example',
      'preload-images': 'busybox\nghcr.io/org/app:1.0, quay.io/x/y@sha256:' + 'a'.repeat(64),
      'image-archives': '/tmp/flannel.tar\n./images/nginx.tar'
    })
    assert.deepEqual(c.registryMirrors, [
      { registry: 'docker.io', endpoints: ['https://mirror.gcr.io', 'https://second.example'] },
      { registry: 'registry.k8s.io', endpoints: ['https://k8s.m.daocloud.io', 'http://127.0.0.1:5000'] }
    ])
    assert.deepEqual(c.preloadImages, ['docker.io/library/busybox:latest', 'ghcr.io/org/app:1.0', `quay.io/x/y@sha256:${'a'.repeat(64)}`])
    assert.deepEqual(c.imageArchives, ['/tmp/flannel.tar', './images/nginx.tar'])
  })

  it('accepts booleans in YAML 1.2 core form, as @actions/core does', () => {
    assert.equal(parseWith({ untaint: 'False' }).untaint, false)
    assert.equal(parseWith({ 'smoke-test': 'TRUE' }).smokeTest, true)
  })
})

describe('inputs: networks, as kubeadm validates them', () => {
  const only = (inputs: Record<string, string>): string => {
    const problems = problemsOf(inputs)
    assert.equal(problems.length, 1, problems.join('\n'))
    return problems[0]
  }

  for (const bits of [25, 26, 27, 28]) {
    it(`refuses a pod network smaller than a node's /24: /${bits}`, () => {
      const value = `10.244.0.0/${bits}`
      const p = only({ 'pod-network-cidr': value })
      assert.ok(p.startsWith(`Input 'pod-network-cidr' has the value "${value}"; accepted: an IPv4 network in CIDR form, such as '10.244.0.0/16', with a prefix length from /8 to /24 (`), p)
      assert.match(p, /kubeadm gives each node a \/24 of the pod network/)
    })
  }

  it('takes a pod network from /8 to /24 and refuses a /7 (more than 16 bits wider than a node\'s /24)', () => {
    assert.equal(parseWith({ 'pod-network-cidr': '10.244.0.0/24' }).podNetworkCidr, '10.244.0.0/24')
    assert.equal(parseWith({ 'pod-network-cidr': '10.0.0.0/8', 'service-cidr': '192.168.0.0/16' }).podNetworkCidr, '10.0.0.0/8')
    assert.match(only({ 'pod-network-cidr': '10.0.0.0/7', 'service-cidr': '192.168.0.0/16' }), /at most 16 bits wider/)
  })

  for (const bits of [8, 9, 10, 11]) {
    it(`refuses a service network with more than 20 host bits: /${bits}`, () => {
      const value = `172.16.0.0/${bits}`
      const p = only({ 'service-cidr': value })
      assert.ok(p.startsWith(`Input 'service-cidr' has the value "${value}"; accepted: an IPv4 network in CIDR form, such as '10.96.0.0/12', with a prefix length from /12 to /28 (`), p)
      assert.match(p, /at most 20 host bits, 1,048,576 addresses/)
    })
  }

  it('takes a service network from /12 to /28 and refuses a /29 (fewer than 10 addresses)', () => {
    assert.equal(parseWith({ 'service-cidr': '172.16.0.0/12' }).serviceCidr, '172.16.0.0/12')
    assert.equal(parseWith({ 'service-cidr': '10.96.0.0/28' }).serviceCidr, '10.96.0.0/28')
    assert.match(only({ 'service-cidr': '10.96.0.0/29' }), /needs at least 10 addresses/)
  })

  it("gives each network its own default as the example, never the other's", () => {
    const pod = only({ 'pod-network-cidr': 'nope' })
    const svc = only({ 'service-cidr': 'nope' })
    assert.match(pod, new RegExp(`such as '${DEFAULTS.podNetworkCidr}'`))
    assert.ok(!pod.includes(DEFAULTS.serviceCidr), pod)
    assert.match(svc, new RegExp(`such as '${DEFAULTS.serviceCidr}'`))
    assert.ok(!svc.includes(DEFAULTS.podNetworkCidr), svc)
  })

  it('reads a network with host bits set as its network address, and says so in a note', () => {
    const c = parseWith({ 'pod-network-cidr': '10.244.1.0/16', 'service-cidr': '10.96.5.7/12' })
    assert.equal(c.podNetworkCidr, '10.244.0.0/16')
    assert.equal(c.serviceCidr, '10.96.0.0/12')
    assert.deepEqual(c.notes, [
      `Input 'pod-network-cidr' has the value "10.244.1.0/16", which has host bits set; it is read as its network, 10.244.0.0/16.`,
      `Input 'service-cidr' has the value "10.96.5.7/12", which has host bits set; it is read as its network, 10.96.0.0/12.`
    ])
  })

  it('has no notes when nothing needed saying', () => {
    assert.deepEqual(parseWith({}).notes, [])
    assert.deepEqual(parseWith({ 'pod-network-cidr': '10.32.0.0/16' }).notes, [])
  })

  it('names both networks as given, their network and which is the default when they overlap', () => {
    const p = only({ 'pod-network-cidr': '10.96.1.0/16' })
    assert.equal(
      p,
      "Inputs 'pod-network-cidr' (10.96.1.0/16, network 10.96.0.0/16) and 'service-cidr' (10.96.0.0/12, the default) overlap: an address in both would be a pod's and a Service's; accepted: two disjoint IPv4 networks, such as the defaults 10.244.0.0/16 and 10.96.0.0/12."
    )
  })

  it('suggests, on an overlap, a pair that is itself accepted', () => {
    const p = only({ 'pod-network-cidr': '10.0.0.0/8', 'service-cidr': '10.96.0.0/12' })
    const [, pod, svc] = /such as the defaults (\S+) and (\S+)\.$/.exec(p)!
    const c = parseWith({ 'pod-network-cidr': pod, 'service-cidr': svc })
    assert.deepEqual([c.podNetworkCidr, c.serviceCidr], [pod, svc])
  })

  it('finds no overlap between adjacent networks', () => {
    const c = parseWith({ 'pod-network-cidr': '10.0.0.0/16', 'service-cidr': '10.1.0.0/16' })
    assert.deepEqual([c.podNetworkCidr, c.serviceCidr], ['10.0.0.0/16', '10.1.0.0/16'])
  })
})

describe('inputs: paths', () => {
  it('keeps each image-archives line whole: commas and # are part of a path; only whole-line comments', () => {
    const c = parseWith({ 'image-archives': 'a,b.tar\nimg#1.tar\n# a comment\n   # an indented comment\n\n/abs/x y.tar\r\n./-dash.tar' })
    assert.deepEqual(c.imageArchives, ['a,b.tar', 'img#1.tar', '/abs/x y.tar', './-dash.tar'])
  })

  it('refuses an image-archives path beginning with -, which tar and ctr would read as an option', () => {
    const problems = problemsOf({ 'image-archives': '/ok.tar\n-rf.tar\n--help' })
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.ok(problems[0].startsWith(`Input 'image-archives' has the value "-rf.tar"; accepted: one path per line to an image tarball`), problems[0])
    assert.match(problems[0], /not beginning with '-' \(tar and ctr would read it as an option\); write '\.\/-rf\.tar'/)
    assert.match(problems[1], /has the value "--help"/)
  })

  it('refuses a NUL byte in a path, without writing the NUL into the message', () => {
    const p = problemsOf({ 'image-archives': 'a\0b.tar' })[0]
    assert.match(p, /^Input 'image-archives' has the value "a\\\\0b\.tar"; accepted: .* with no NUL byte\.$/)
    assert.equal(p.includes('\0'), false)
    assert.match(problemsOf({ 'cni-manifest': '/tmp/a\0.yml' })[0], /^Input 'cni-manifest' .* with no NUL byte/)
  })

  it("refuses a path beginning with '~', which no shell expands", () => {
    assert.match(problemsOf({ 'image-archives': '~/images/a.tar' })[0], /^Input 'image-archives' has the value "~\/images\/a\.tar"; accepted: .*not beginning with '~'/)
    assert.match(problemsOf({ 'cni-manifest': '~/flannel.yml' })[0], /^Input 'cni-manifest' .*not beginning with '~'/)
  })

  for (const bad of ['file:///tmp/kube-flannel.yml', 'ftp://example.com/kube-flannel.yml', 's3://bucket/kube-flannel.yml', 'localhost:8080/kube-flannel.yml', 'FILE:/etc/passwd']) {
    it(`refuses cni-manifest ${JSON.stringify(bad)}: a scheme other than http(s) is not read as a path`, () => {
      const problems = problemsOf({ 'cni-manifest': bad })
      assert.equal(problems.length, 1)
      assert.equal(problems[0], `Input 'cni-manifest' has the value ${JSON.stringify(bad)}; accepted: an http:// or https:// URL, or a local path, such as '/tmp/kube-flannel.yml'; a local file whose name has a ':' before any '/' is written './NAME'.`)
    })
  }

  it('refuses plain http:// for what it downloads, but to this machine: the file and its checksum could be rewritten together', () => {
    for (const [name, value] of [
      ['kubernetes-release-url', 'http://mirror.example/release'],
      ['github-url', 'http://10.0.0.5:8080'],
      ['cni-manifest', 'http://example.com/kube-flannel.yml'],
      // the scheme in any case: URL reads it as http
      ['kubernetes-release-url', 'HTTP://mirror.example/release'],
      ['github-url', 'Http://10.0.0.5:8080']
    ]) {
      const [p] = problemsOf({ [name]: value })
      assert.match(p, new RegExp(`^Input '${name}' has the value "${value.replace(/[.]/g, '\\.')}"; accepted: an https:// URL.*http:// only to this machine \\(localhost, 127\\.0\\.0\\.0/8, \\[::1\\]\\)`))
    }
    for (const local of ['http://127.0.0.1:8080/release', 'http://localhost/release', 'http://[::1]:80/release', 'http://127.9.9.9/release']) {
      assert.equal(parseWith({ 'kubernetes-release-url': local }).kubernetesReleaseUrl, local)
    }
    assert.equal(parseWith({ 'kubernetes-release-url': 'HTTPS://dl.example/release/' }).kubernetesReleaseUrl, 'https://dl.example/release', 'kept with a lowercase scheme')
    assert.equal(parseWith({ 'github-url': 'HTTP://localhost:8080' }).githubUrl, 'http://localhost:8080')
    // registry-mirrors stay the user's choice: containerd and Docker speak plain HTTP to a mirror they are told to
    assert.deepEqual(parseWith({ 'registry-mirrors': 'docker.io=http://10.0.0.5:5000' }).registryMirrors[0].endpoints, ['http://10.0.0.5:5000'])
  })

  it('takes cni-manifest as an http(s) URL (scheme lowercased) or a local path', () => {
    assert.equal(parseWith({ 'cni-manifest': 'https://example.com/kube-flannel.yml' }).cniManifest, 'https://example.com/kube-flannel.yml')
    assert.equal(parseWith({ 'cni-manifest': 'HTTPS://example.com/kube-flannel.yml' }).cniManifest, 'https://example.com/kube-flannel.yml')
    assert.equal(parseWith({ 'cni-manifest': 'Http://127.0.0.1:8080/f.yml' }).cniManifest, 'http://127.0.0.1:8080/f.yml')
    assert.equal(parseWith({ 'cni-manifest': './a:b.yml' }).cniManifest, './a:b.yml')
    assert.equal(parseWith({ 'cni-manifest': '/tmp/a;b $(x).yml' }).cniManifest, '/tmp/a;b $(x).yml')
    assert.equal(parseWith({ 'cni-manifest': 'manifests/flannel,v2#1.yml' }).cniManifest, 'manifests/flannel,v2#1.yml')
    const [p] = problemsOf({ 'cni-manifest': 'https://user:pw@example.com/f.yml' })
    assert.match(p, /a URL without credentials/)
    assert.equal(p.includes('pw'), false)
  })

  it('still splits preload-images on commas and newlines', () => {
    assert.deepEqual(parseWith({ 'preload-images': 'busybox:1.36, alpine:3\nnginx:1.29 # web' }).preloadImages, [
      'docker.io/library/busybox:1.36',
      'docker.io/library/alpine:3',
      'docker.io/library/nginx:1.29'
    ])
  })

  it('reports every bad entry of a list', () => {
    const problems = problemsOf({ 'preload-images': 'BAD ONE, nginx, BAD TWO', 'image-archives': '-a.tar\n~b.tar' })
    assert.equal(problems.length, 4, problems.join('\n'))
  })
})

describe('inputs: registry mirrors, as their consumers take them', () => {
  it('reads registry names case-insensitively and Docker Hub by any of its names, merging their lines', () => {
    const c = parseWith({
      'registry-mirrors': [
        'Docker.IO=https://a.example',
        'index.docker.io=https://b.example',
        'REGISTRY-1.docker.io=https://a.example https://c.example',
        'GHCR.io=https://g.example',
        'ghcr.io=https://g.example'
      ].join('\n')
    })
    assert.deepEqual(c.registryMirrors, [
      { registry: 'docker.io', endpoints: ['https://a.example', 'https://b.example', 'https://c.example'] },
      { registry: 'ghcr.io', endpoints: ['https://g.example'] }
    ])
  })

  it('keeps an endpoint as its origin: scheme and host lowercase, default port and trailing / dropped', () => {
    const c = parseWith({ 'registry-mirrors': 'quay.io=HTTPS://Mirror.Example:443/ http://127.0.0.1:5000/ https://[::1]:8443' })
    assert.deepEqual(c.registryMirrors[0].endpoints, ['https://mirror.example', 'http://127.0.0.1:5000', 'https://[::1]:8443'])
  })

  for (const bad of ['https://mirror.example/dockerhub', 'https://mirror.example/v2/', 'https://mirror.example/?x=1', 'https://mirror.example?', 'https://mirror.example/#top', 'https://mirror.example#frag']) {
    it(`refuses the endpoint ${bad}: a path, query or fragment, saying why`, () => {
      const problems = problemsOf({ 'registry-mirrors': `docker.io=${bad}` })
      assert.equal(problems.length, 1, problems.join('\n'))
      assert.ok(problems[0].startsWith(`Input 'registry-mirrors' has the value ${JSON.stringify(bad)}; accepted: an endpoint with no path, query or fragment, such as 'https://mirror.gcr.io'`), problems[0])
      assert.match(problems[0], /Docker refuses a registry-mirrors URL with a query or fragment, and before Docker 25 with a path/)
      assert.match(problems[0], /would leave dockerd unable to reload/)
    })
  }

  it('refuses a path for any registry, not only Docker Hub', () => {
    assert.match(problemsOf({ 'registry-mirrors': 'registry.k8s.io=https://m.example/k8s' })[0], /no path, query or fragment/)
  })

  it("takes '#' after a space as a comment, so a trailing note is no fragment", () => {
    const c = parseWith({ 'registry-mirrors': '# Docker Hub\ndocker.io=https://mirror.gcr.io # Google\'s\n  # indented' })
    assert.deepEqual(c.registryMirrors, [{ registry: 'docker.io', endpoints: ['https://mirror.gcr.io'] }])
  })

  it('reports every bad endpoint and line at once', () => {
    const problems = problemsOf({ 'registry-mirrors': 'docker.io=https://a.example/x https://b.example/y\nnot a line\nquay.io=ftp://q.example' })
    assert.equal(problems.length, 4, problems.join('\n'))
  })
})

describe('inputs: cni-version and github-token', () => {
  it('takes the pinned release by default, latest, or a release with or without its v', () => {
    assert.deepEqual(parseWith({}).cniVersion, { kind: 'pinned' })
    assert.deepEqual(parseWith({ cni: 'calico', 'cni-version': 'latest', 'github-token': 't' }).cniVersion, { kind: 'latest' })
    assert.deepEqual(parseWith({ cni: 'calico', 'cni-version': '3.31.4' }).cniVersion, { kind: 'exact', version: 'v3.31.4' })
    assert.deepEqual(parseWith({ 'cni-version': 'v0.27.0' }).cniVersion, { kind: 'exact', version: 'v0.27.0' })
  })

  it("refuses a version with cni 'none', which installs no release", () => {
    const [p] = problemsOf({ cni: 'none', 'cni-version': 'latest', 'github-token': 't' })
    assert.equal(p, `Input 'cni-version' has the value "latest"; accepted: '' with cni 'none', which installs no release.`)
  })

  it('refuses a version beside cni-manifest, which replaces the release', () => {
    const [p] = problemsOf({ cni: 'calico', 'cni-version': 'v3.32.2', 'cni-manifest': '/tmp/calico.yaml' })
    assert.match(p, /^Input 'cni-version' has the value "v3\.32\.2"; accepted: '' when cni-manifest is set/)
  })

  it("refuses 'latest' with an empty github-token, naming the input and never a token", () => {
    const [p] = problemsOf({ cni: 'calico', 'cni-version': 'latest', 'github-token': '  ' })
    assert.match(p, /^Input 'github-token' is empty, but cni-version 'latest' looks the release up with GitHub's API/)
    assert.match(p, /an exact cni-version such as 'v3\.32\.2', which needs no lookup/)
  })

  it('never repeats the token, in a config error or anywhere else', () => {
    const problems = problemsOf({ cni: 'none', 'cni-version': 'latest', 'github-token': 'ghs_s3cret', timeout: 'x' })
    assert.equal(problems.join('\n').includes('ghs_s3cret'), false)
    assert.equal(parseWith({ 'github-token': 'ghs_s3cret' }).githubToken, 'ghs_s3cret')
  })
})

describe('action.yml says the rules', () => {
  const described = (name: string): string => String(parse(readFileSync('action.yml', 'utf8')).inputs[name].description)
  it('names the bounds and normalisations the parser applies', () => {
    assert.match(described('pod-network-cidr'), /from \/8 to \/24/)
    assert.match(described('service-cidr'), /from \/12 to \/28/)
    assert.match(described('pod-network-cidr'), /10\.244\.1\.0\/16 is read as 10\.244\.0\.0\/16/)
    assert.match(described('timeout'), /at most 1h/)
    assert.match(described('registry-mirrors'), /index\.docker\.io and registry-1\.docker\.io mean docker\.io/)
    assert.match(described('registry-mirrors'), /no path, query or fragment/)
    assert.match(described('image-archives'), /one path per line, each kept whole/)
    assert.match(described('image-archives'), /may not begin with '-'/)
    assert.match(described('cni-manifest'), /other schemes \(file:\/\/, ftp:\/\/, \.\.\.\) are refused/)
    assert.match(described('cni-version'), /flannel v0\.28\.9, calico v3\.32\.1/)
    assert.match(described('github-token'), /never printed/)
  })
})

describe('inputs: image-retags', () => {
  const only = (inputs: Record<string, string>): string => {
    const problems = problemsOf(inputs)
    assert.equal(problems.length, 1, problems.join('\n'))
    return problems[0]
  }

  it('is empty by default', () => {
    assert.deepEqual(parseWith({}).imageRetags, [])
  })

  it('reads SOURCE=TARGET lines, normalised as preload-images reads an image, skipping blanks and comments', () => {
    const c = parseWith({
      'image-retags': [
        '# coredns as the mirror names it',
        '  docker.io/coredns/coredns:1.12.1 = registry.k8s.io/coredns/coredns:v1.12.1  ',
        '',
        'mirror.example/pause:3.10.1=registry.k8s.io/pause:3.10.1 # kubeadm\'s pause',
        `busybox@sha256:${'b'.repeat(64)}=localhost:5000/tools/busybox`
      ].join('\r\n')
    })
    assert.deepEqual(c.imageRetags, [
      { source: 'docker.io/coredns/coredns:1.12.1', target: 'registry.k8s.io/coredns/coredns:v1.12.1' },
      { source: 'mirror.example/pause:3.10.1', target: 'registry.k8s.io/pause:3.10.1' },
      { source: `docker.io/library/busybox@sha256:${'b'.repeat(64)}`, target: 'localhost:5000/tools/busybox:latest' }
    ])
  })

  for (const bad of ['docker.io/coredns/coredns:1.12.1', 'a:1=b:1=c:1', '=registry.k8s.io/pause:3.10.1', 'mirror.example/pause:3.10.1=', 'BAD IMAGE=nginx:1', 'nginx:1=nginx:$(reboot)']) {
    it(`refuses the line ${JSON.stringify(bad)}, naming the input, repeating the line and giving the accepted form`, () => {
      assert.equal(only({ 'image-retags': bad }), `Input 'image-retags' has the value ${JSON.stringify(bad)}; accepted: ${RETAG_FORM}.`)
    })
  }

  it('refuses a TARGET with a digest, a TARGET that is its SOURCE, a TARGET made twice and a chain, saying why', () => {
    const digest = `nginx:1=registry.k8s.io/pause@sha256:${'c'.repeat(64)}`
    assert.match(only({ 'image-retags': digest }), /^Input 'image-retags' has the value ".*"; accepted: a TARGET with a tag, not a digest/)
    assert.match(only({ 'image-retags': 'nginx=docker.io/library/nginx:latest' }), /^Input 'image-retags' has the value "nginx=docker\.io\/library\/nginx:latest"; accepted: a TARGET other than its SOURCE/)
    const twice = only({ 'image-retags': 'a.example/pause:1=registry.k8s.io/pause:3.10.1\nb.example/pause:1=registry.k8s.io/pause:3.10.1' })
    assert.match(twice, /^Input 'image-retags' has the value "b\.example\/pause:1=registry\.k8s\.io\/pause:3\.10\.1"; accepted: each TARGET on one line only \(registry\.k8s\.io\/pause:3\.10\.1 is also made by "a\.example/)
    const chain = only({ 'image-retags': 'a.example/x:1=b.example/x:1\nb.example/x:1=c.example/x:1' })
    assert.match(chain, /^Input 'image-retags' has the value "a\.example\/x:1=b\.example\/x:1"; accepted: a TARGET that is no other line's SOURCE/)
  })

  it('reports every bad line at once, beside other bad inputs', () => {
    const problems = problemsOf({ 'image-retags': 'one\nnginx:1=nginx:2\ntwo=', cni: 'weave' })
    assert.equal(problems.length, 3, problems.join('\n'))
    assert.equal(problems.filter((p) => p.startsWith("Input 'image-retags'")).length, 2)
  })

  it('is described in action.yml with the form the parser accepts', () => {
    const described = String(parse(readFileSync('action.yml', 'utf8')).inputs['image-retags'].description)
    const example = /e\.g\. '([^']+)'/.exec(described)![1]
    assert.equal(parseWith({ 'image-retags': example }).imageRetags.length, 1)
    assert.ok(RETAG_FORM.includes(example), 'action.yml and the error give the same example')
    assert.match(described, /TARGET is never pulled/)
  })
})

describe('inputs: mirror-preset', () => {
  const china = MIRROR_PRESETS.china.inputs
  const presetInputs = Object.keys(china) as Array<keyof typeof china>
  const FIELD = { 'image-repository': 'imageRepository', 'registry-mirrors': 'registryMirrors', 'kubernetes-release-url': 'kubernetesReleaseUrl', 'github-url': 'githubUrl' } as const

  it('sets nothing by default', () => {
    const c = parseWith({})
    assert.equal(c.mirrorPreset, undefined)
    assert.equal(c.imageRepository, DEFAULTS.imageRepository)
    assert.equal(c.kubernetesReleaseUrl, DEFAULTS.kubernetesReleaseUrl)
  })

  it("applies each of the preset's values as if the input had been given it", () => {
    const c = parseWith({ 'mirror-preset': 'china' })
    assert.equal(c.mirrorPreset, 'china')
    // the preset's text through the parser, input by input, is what the preset gives
    const byHand = parseWith(china)
    const unlabelled = (x: Config): Partial<Config> => {
      const y: Partial<Config> = { ...x, notes: [] }
      delete y.mirrorPreset
      return y
    }
    assert.deepEqual(unlabelled(c), unlabelled(byHand))
    assert.equal(c.imageRepository, 'registry.aliyuncs.com/google_containers')
    assert.deepEqual(c.registryMirrors, [
      { registry: 'docker.io', endpoints: ['https://docker.m.daocloud.io'] },
      { registry: 'ghcr.io', endpoints: ['https://ghcr.m.daocloud.io'] },
      { registry: 'quay.io', endpoints: ['https://quay.m.daocloud.io'] },
      { registry: 'registry.k8s.io', endpoints: ['https://k8s.m.daocloud.io'] }
    ])
    assert.equal(c.kubernetesReleaseUrl, 'https://files.m.daocloud.io/dl.k8s.io/release')
    assert.equal(c.githubUrl, 'https://files.m.daocloud.io/github.com')
    // and nothing else
    const rest = (x: Config) => ({ ...unlabelled(x), imageRepository: '', registryMirrors: [], kubernetesReleaseUrl: '', githubUrl: '' })
    assert.deepEqual(rest(c), rest(parseWith({})))
  })

  it('sets exactly the inputs the tests name', () => {
    assert.deepEqual([...presetInputs].sort(), Object.keys(FIELD).sort())
  })

  for (const input of Object.keys(FIELD) as Array<keyof typeof FIELD>) {
    it(`lets an explicit ${input} win over the preset's`, () => {
      const own = {
        'image-repository': 'mirror.example/k8s',
        'registry-mirrors': 'docker.io=https://mirror.gcr.io',
        'kubernetes-release-url': 'https://release.example/release',
        'github-url': 'https://gh.example'
      }[input]
      const c = parseWith({ 'mirror-preset': 'china', [input]: own })
      const alone = parseWith({ [input]: own })
      assert.deepEqual(c[FIELD[input]], alone[FIELD[input]], "the user's value, whole")
      for (const other of presetInputs.filter((i) => i !== input)) {
        assert.deepEqual(c[FIELD[other]], parseWith({ 'mirror-preset': 'china' })[FIELD[other]], `${other} still comes from the preset`)
      }
      assert.match(c.notes[0], new RegExp(`; your own ${input} is kept\\.$`))
      assert.ok(!c.notes[0].includes(`it sets ${input} `) && !c.notes[0].includes(`; ${input} `), c.notes[0])
    })
  }

  it('says in a note what it set, for the log and the dry run', () => {
    assert.deepEqual(parseWith({ 'mirror-preset': 'china' }).notes, [
      "Input 'mirror-preset' is 'china': it sets image-repository registry.aliyuncs.com/google_containers; registry-mirrors docker.io=https://docker.m.daocloud.io, ghcr.io=https://ghcr.m.daocloud.io, quay.io=https://quay.m.daocloud.io, registry.k8s.io=https://k8s.m.daocloud.io; kubernetes-release-url https://files.m.daocloud.io/dl.k8s.io/release; github-url https://files.m.daocloud.io/github.com."
    ])
    const all = { 'image-repository': 'registry.k8s.io', 'registry-mirrors': 'quay.io=https://q.example', 'kubernetes-release-url': 'https://dl.k8s.io/release', 'github-url': 'https://github.com' }
    assert.deepEqual(Object.keys(all), presetInputs)
    assert.equal(parseWith({ ...all, 'mirror-preset': 'china' }).notes[0], "Input 'mirror-preset' is 'china': it sets nothing; your own image-repository, registry-mirrors, kubernetes-release-url, github-url are kept.")
  })

  for (const bad of ['China', 'cn', 'eu', 'china,eu', 'none']) {
    it(`refuses mirror-preset ${JSON.stringify(bad)}, listing the accepted values`, () => {
      const problems = problemsOf({ 'mirror-preset': bad })
      assert.deepEqual(problems, [`Input 'mirror-preset' has the value ${JSON.stringify(bad)}; accepted: ${MIRROR_PRESET_FORMS}.`])
      assert.equal(MIRROR_PRESET_FORMS, "'' (no preset), 'china' (mirrors reachable from mainland China)")
    })
  }

  it('still parses every other input when the preset is refused, reporting all problems at once', () => {
    const problems = problemsOf({ 'mirror-preset': 'mars', 'image-repository': 'BAD REPO' })
    assert.equal(problems.length, 2, problems.join('\n'))
  })

  it('keeps every accepted value in action.yml', () => {
    const described = String(parse(readFileSync('action.yml', 'utf8')).inputs['mirror-preset'].description)
    for (const n of MIRROR_PRESET_NAMES) assert.ok(described.includes(`'${n}'`), n)
    for (const input of presetInputs) assert.ok(described.includes(input), input)
    assert.match(described, /An input you set yourself wins/)
  })
})

describe('inputs: one reading of booleans, and contradictions refused up front', () => {
  const booleans = INPUTS.filter((s) => s.kind === 'boolean').map((s) => s.name)

  it('has the boolean inputs it should', () => {
    assert.deepEqual(booleans, ['untaint', 'fast-start', 'smoke-test', 'load-balancer', 'cache', 'offline', 'dry-run'])
  })

  for (const name of [...booleans, 'cleanup']) {
    it(`reads ${name} in every YAML 1.2 boolean form, as @actions/core's getBooleanInput does, and nothing else`, () => {
      const field = INPUTS.find((s) => s.name === name)!.field
      const extra: Record<string, string> = name === 'offline' ? { 'kubernetes-version': 'v1.34.2' } : {}
      for (const v of ['true', 'True', 'TRUE']) {
        const c = parseWith({ ...extra, [name]: v })
        assert.equal(String((c as unknown as Record<string, unknown>)[field]), 'true', v)
      }
      for (const v of ['false', 'False', 'FALSE']) assert.equal(String((parseWith({ [name]: v }) as unknown as Record<string, unknown>)[field]), 'false', v)
      for (const v of ['yes', 'tRUE', '1', 'on']) {
        const [p] = problemsOf({ [name]: v })
        assert.match(p, new RegExp(`^Input '${name}' has the value "${v}"; accepted: .*'true'.*'false'.*'True', 'TRUE', 'False', 'FALSE'`))
      }
    })
  }

  it("refuses cni 'none' with cni-manifest, naming both", () => {
    const problems = problemsOf({ cni: 'none', 'cni-manifest': 'https://example.com/kube-flannel.yml' })
    assert.deepEqual(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /^Inputs 'cni' \('none'\) and 'cni-manifest' \("https:\/\/example\.com\/kube-flannel\.yml"\) do not go together: .*accepted: cni-manifest with a CNI installed from a manifest \('flannel', 'calico'\)/)
  })

  it("refuses container-runtime 'docker' with load-images, naming both", () => {
    const problems = problemsOf({ 'container-runtime': 'docker', 'load-images': 'my-app:ci' })
    assert.deepEqual(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /^Inputs 'load-images' and 'container-runtime' \('docker'\) do not go together: .*the same Docker/)
    assert.deepEqual(parseWith({ 'container-runtime': 'docker' }).loadImages, [])
  })

  it("refuses container-runtime 'docker' with registry-credentials, naming both and never the token", () => {
    const problems = problemsOf({ 'container-runtime': 'docker', 'registry-credentials': 'docker.io=octocat:dckr_pat_never_shown' })
    assert.deepEqual(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /^Inputs 'registry-credentials' and 'container-runtime' \('docker'\) do not go together yet: .*sudo docker login/)
    assert.doesNotMatch(problems[0], /dckr_pat_never_shown/)
    assert.deepEqual(parseWith({ 'container-runtime': 'containerd', 'registry-credentials': 'docker.io=octocat:dckr_pat_never_shown', 'load-images': 'my-app:ci' }).loadImages, ['docker.io/library/my-app:ci'])
  })

  it('refuses cache true with offline true, and smoke-test true with cni none, naming both; their defaults follow', () => {
    assert.match(problemsOf({ cache: 'true', offline: 'true', 'kubernetes-version': 'v1.34.2' }).join('\n'), /^Inputs 'cache' \('true'\) and 'offline' \('true'\) do not go together/)
    assert.match(problemsOf({ 'smoke-test': 'TRUE', cni: 'none' }).join('\n'), /^Inputs 'smoke-test' \('TRUE'\) and 'cni' \('none'\) do not go together/)
    assert.equal(parseWith({ offline: 'true', 'kubernetes-version': 'v1.34.2' }).cache, false)
    assert.equal(parseWith({ cni: 'none' }).smokeTest, false)
    assert.equal(parseWith({ cni: 'none', 'smoke-test': 'false' }).smokeTest, false)
  })
})
