// mirror-preset's data: every value is an accepted input, the README lists exactly what
// each preset sets, and each value names its source where it is defined.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { INPUT_NAMES, parseInputs } from '../src/inputs/parse.js'
import { MIRROR_PRESET_NAMES, MIRROR_PRESETS, presetValue } from '../src/config/presets.js'

const readme = readFileSync('README.md', 'utf8')

/** The body of a `## ` section of the README, up to the next one. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`)
  assert.ok(start >= 0, `README has a section "${title}"`)
  const end = readme.indexOf('\n## ', start + 1)
  return readme.slice(start, end < 0 ? undefined : end)
}

/** The rows of the first Markdown table whose header starts with `header`, as cells. */
function table(text: string, header: string): string[][] {
  const lines = text.split('\n')
  const at = lines.findIndex((l) => l.startsWith(header))
  assert.ok(at >= 0, `a table headed ${header}`)
  const rows: string[][] = []
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.slice(1, -1).split('|').map((c) => c.trim()))
  }
  return rows
}

const code = (cell: string): string => {
  const m = /^`([^`]+)`$/.exec(cell)
  assert.ok(m, `${cell} is one code span`)
  return m[1]
}

describe('mirror presets', () => {
  it("offers 'china', and only inputs the action has", () => {
    assert.deepEqual(MIRROR_PRESET_NAMES, ['china'])
    for (const name of MIRROR_PRESET_NAMES) {
      for (const input of Object.keys(MIRROR_PRESETS[name].inputs)) assert.ok((INPUT_NAMES as readonly string[]).includes(input), input)
    }
  })

  it('holds values the inputs themselves accept, with no note about them', () => {
    for (const name of MIRROR_PRESET_NAMES) {
      const c = parseInputs((n) => (MIRROR_PRESETS[name].inputs as Record<string, string>)[n] ?? '')
      assert.deepEqual(c.notes, [], 'nothing in a preset is read other than as written')
    }
  })

  it('reads a preset value by input, and nothing without a preset', () => {
    assert.equal(presetValue('china', 'image-repository'), 'registry.aliyuncs.com/google_containers')
    assert.equal(presetValue('china', 'smoke-test-image'), undefined)
    assert.equal(presetValue(undefined, 'image-repository'), undefined)
  })

  it("uses DaoCloud's host-replacement mirrors, which keep image names, and its file mirror's prefix form", () => {
    const { inputs } = MIRROR_PRESETS.china
    const mirrors = Object.fromEntries(inputs['registry-mirrors'].split('\n').map((l) => l.split('=')))
    assert.deepEqual(mirrors, {
      'docker.io': 'https://docker.m.daocloud.io',
      'ghcr.io': 'https://ghcr.m.daocloud.io',
      'quay.io': 'https://quay.m.daocloud.io',
      'registry.k8s.io': 'https://k8s.m.daocloud.io'
    })
    // the file mirror takes the original URL after its own host
    assert.equal(inputs['kubernetes-release-url'], 'https://files.m.daocloud.io/dl.k8s.io/release')
    assert.equal(inputs['github-url'], 'https://files.m.daocloud.io/github.com')
  })

  it('names the source of every value in a comment above it', () => {
    const source = readFileSync('src/config/presets.ts', 'utf8')
    for (const input of Object.keys(MIRROR_PRESETS.china.inputs)) {
      const lines = source.split('\n')
      const at = lines.findIndex((l) => l.trim().startsWith(`'${input}':`))
      assert.ok(at > 0, input)
      const comment: string[] = []
      for (let i = at - 1; i >= 0 && lines[i].trim().startsWith('//'); i--) comment.unshift(lines[i])
      assert.ok(comment.length > 0, `${input} has a comment`)
      assert.match(comment.join(' '), /Alibaba Cloud|DaoCloud|file mirror/, `${input}'s comment names where the value comes from`)
    }
  })
})

describe('the README on mirror presets', () => {
  const restricted = section('Restricted networks')

  it('places "Restricted networks" just before "Outputs"', () => {
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1])
    assert.equal(headings[headings.indexOf('Outputs') - 1], 'Restricted networks')
  })

  it("lists exactly what 'china' sets, value for value", () => {
    const rows = table(restricted, '| input | `mirror-preset: china` sets |')
    const listed = Object.fromEntries(rows.map(([input, values]) => [code(input), values.split('<br>').map(code).join('\n')]))
    assert.deepEqual(listed, MIRROR_PRESETS.china.inputs)
  })

  it('says the image mirror is whitelisted and rate-limited, and that an explicit input wins', () => {
    assert.match(restricted, /whitelisted and rate-limited/)
    assert.match(restricted, /allow list/)
    assert.match(restricted, /An input you set yourself is used instead of the preset's value/)
  })

  it('has a row in the Inputs table for mirror-preset and image-retags, in action.yml order', () => {
    const rows = table(section('Inputs'), '| input | default | accepted |').map((r) => code(r[0]))
    const action = INPUT_NAMES.filter((n) => rows.includes(n))
    assert.deepEqual(rows, action, 'the table follows action.yml order')
    assert.ok(rows.includes('mirror-preset') && rows.includes('image-retags'))
    const preset = table(section('Inputs'), '| input | default | accepted |').find((r) => r[0] === '`mirror-preset`')!
    for (const input of Object.keys(MIRROR_PRESETS.china.inputs)) assert.ok(preset[2].includes(`\`${input}\``), `the row names ${input}`)
  })

  it("gives image-retags examples the input accepts, and mirror-preset: china parses", () => {
    const blocks = [...restricted.matchAll(/image-retags: \|\n((?:\s+\S.*\n)+?)\s*```/g)].map((m) => m[1])
    assert.equal(blocks.length, 2)
    for (const b of blocks) {
      const c = parseInputs((n) => (n === 'image-retags' ? b : n === 'mirror-preset' ? 'china' : ''))
      assert.ok(c.imageRetags.length > 0)
    }
  })
})
