// The input table (src/config/input-table.ts) is the one declaration of every input: action.yml
// and the README's Inputs table are written from it (npm run inputs) and must not drift, and a
// runner's filled-in defaults must parse as a workflow that never named the input.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { actionDescription, renderActionInputs, renderReadmeInputs, withActionInputs, withReadmeInputs } from '../src/inputs/docs.js'
import { INPUT_NAMES, INPUTS, type AnyInputSpec } from '../src/inputs/table.js'
import { parseInputs, type Config } from '../src/inputs/parse.js'

const actionYml = readFileSync('action.yml', 'utf8')
const action = parse(actionYml)
const specs = INPUTS as readonly AnyInputSpec[]

/** Every input as a runner passes it: the workflow's value, or else action.yml's default (github-token's expression becomes a token). */
const asRunner = (given: Record<string, string>): Config =>
  parseInputs((n) => given[n] ?? (n === 'github-token' ? 'ghs_job_token' : String(action.inputs[n].default)))
const withoutToken = (c: Config): Config => ({ ...c, githubToken: '<token>' })

describe('the input table and what is written from it', () => {
  it('action.yml holds exactly what npm run inputs writes', () => {
    assert.equal(withActionInputs(actionYml), actionYml, 'action.yml differs from src/config/input-table.ts: run `npm run inputs`')
    assert.ok(actionYml.includes(`\n${renderActionInputs()}`))
  })

  it("action.yml's inputs are the table's: names in order, whole descriptions, defaults", () => {
    assert.deepEqual(Object.keys(action.inputs), specs.map((s) => s.name))
    for (const s of specs) {
      assert.equal(action.inputs[s.name].description, actionDescription(s), s.name)
      assert.equal(String(action.inputs[s.name].default), s.default, s.name)
      assert.equal(action.inputs[s.name].required, false, s.name)
    }
  })

  it("the README's Inputs table is the table's", () => {
    const readme = readFileSync('README.md', 'utf8')
    assert.equal(withReadmeInputs(readme), readme, 'README.md differs from src/config/input-table.ts: run `npm run inputs`')
    assert.ok(readme.includes(renderReadmeInputs()))
  })

  it('each input feeds a field of its section, and the fields are the whole configuration', () => {
    const c = parseInputs(() => '')
    const fields = specs.map((s) => s.field)
    assert.equal(new Set(fields).size, fields.length, 'one field per input')
    assert.deepEqual([...fields, 'notes'].sort(), Object.keys(c).sort())
  })

  it('says what the code picks for every empty default that depends on another input, and only those', () => {
    for (const s of specs) {
      if (s.empty) assert.equal(s.default, '', `${s.name} has a default the code picks, so action.yml's must be empty`)
    }
    assert.deepEqual(
      specs.filter((s) => s.empty).map((s) => s.name),
      ['image-repository', 'registry-mirrors', 'smoke-test', 'load-balancer-addresses', 'kubernetes-release-url', 'github-url']
    )
  })

  it('names the environment variable of each secret, and no secret takes a flag', () => {
    assert.deepEqual(
      specs.filter((s) => s.env).map((s) => [s.name, s.env]),
      [
        ['registry-credentials', 'KUBEADM_SINGLE_NODE_REGISTRY_CREDENTIALS'],
        ['github-token', 'GITHUB_TOKEN']
      ]
    )
    assert.deepEqual(INPUT_NAMES, specs.map((s) => s.name))
  })
})

describe("a runner's filled-in defaults are a workflow that never named the input", () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['nothing set', {}],
    ["mirror-preset 'china'", { 'mirror-preset': 'china' }],
    ['offline', { offline: 'true', 'kubernetes-version': 'v1.34.2' }],
    ["cni 'none'", { cni: 'none' }],
    ["container-runtime 'docker'", { 'container-runtime': 'docker' }]
  ]
  for (const [what, given] of cases) {
    it(what, () => {
      assert.deepEqual(withoutToken(asRunner(given)), withoutToken(parseInputs((n) => given[n] ?? '')))
    })
  }

  it("mirror-preset 'china' sets all four of its inputs when every input is passed, as a runner passes them", () => {
    const c = asRunner({ 'mirror-preset': 'china' })
    assert.equal(c.imageRepository, 'registry.aliyuncs.com/google_containers')
    assert.equal(c.kubernetesReleaseUrl, 'https://files.m.daocloud.io/dl.k8s.io/release')
    assert.equal(c.githubUrl, 'https://files.m.daocloud.io/github.com')
    assert.deepEqual(
      c.registryMirrors.map((m) => m.registry),
      ['docker.io', 'ghcr.io', 'quay.io', 'registry.k8s.io']
    )
  })

  it('the cache is off unless asked for, offline or not, and cni none turns the smoke test off', () => {
    assert.equal(asRunner({ offline: 'true', 'kubernetes-version': 'v1.34.2' }).cache, false)
    assert.equal(asRunner({}).cache, false)
    assert.equal(asRunner({ cache: 'true' }).cache, true)
    assert.equal(asRunner({ cni: 'none' }).smokeTest, false)
    assert.equal(asRunner({}).smokeTest, true)
  })
})
