import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { DEFAULTS } from '../src/config/defaults.js'
import { INPUT_NAMES, InputError, parseDuration, parseInputs, parseVersionSpec, type Config } from '../src/config/inputs.js'

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

  it('keeps action.yml in step with the parser: same inputs, same defaults', () => {
    const action = parse(readFileSync('action.yml', 'utf8'))
    assert.deepEqual(Object.keys(action.inputs), [...INPUT_NAMES])
    const fromYaml = (n: string): string => String(action.inputs[n].default)
    assert.equal(fromYaml('kubernetes-version'), DEFAULTS.kubernetesVersion)
    assert.equal(fromYaml('pod-network-cidr'), DEFAULTS.podNetworkCidr)
    assert.equal(fromYaml('service-cidr'), DEFAULTS.serviceCidr)
    assert.equal(fromYaml('image-repository'), DEFAULTS.imageRepository)
    assert.equal(fromYaml('smoke-test-image'), DEFAULTS.smokeTestImage)
    assert.equal(fromYaml('timeout'), DEFAULTS.timeout)
    assert.equal(fromYaml('kubernetes-release-url'), DEFAULTS.kubernetesReleaseUrl)
    assert.equal(fromYaml('github-url'), DEFAULTS.githubUrl)
    assert.equal(fromYaml('cleanup'), DEFAULTS.cleanup)
    // action.yml's defaults, fed back as inputs, parse to the same config as no inputs at all
    const all = Object.fromEntries(INPUT_NAMES.map((n) => [n, fromYaml(n)]))
    assert.deepEqual(parseWith(all), parseWith({}))
    assert.equal(action.runs.using, 'node24')
    assert.equal(action.runs.main, 'dist/index.js')
    assert.equal(action.runs.post, 'dist/post.js')
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
      assert.match(p, /'stable', a minor such as '1\.34'/)
    })
  }

  const cases: Array<[string, string, RegExp]> = [
    ['container-runtime', 'cri-o', /accepted: 'containerd'/],
    ['cni', 'calico', /accepted: 'flannel', 'none'/],
    ['pod-network-cidr', '10.244.0.0', /IPv4 network in CIDR form/],
    ['pod-network-cidr', '10.244.0.0/33', /IPv4 network in CIDR form/],
    ['pod-network-cidr', '300.1.0.0/16', /IPv4 network in CIDR form/],
    ['service-cidr', 'fd00::/108', /IPv4 network in CIDR form/],
    ['service-cidr', '10.96.0.0/30', /prefix length from \/8 to \/28/],
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
