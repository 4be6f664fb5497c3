// action.yml's inputs and the README's Inputs table, written from the input table
// (src/inputs/table.ts) by `npm run inputs`, and compared with it by
// __tests__/input-docs.test.ts. Pure: text in, text out.
import { INPUTS, plainText, type AnyInputSpec } from './table.js'

/** action.yml's description of an input: the table's, and for a default the code picks, what it picks. */
export function actionDescription(spec: AnyInputSpec): string {
  return spec.empty ? `${spec.description} Empty: ${plainText(spec.empty)}.` : spec.description
}

/** A YAML scalar for a default, plain where YAML would read the text back as the same string. */
function yamlDefault(value: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9./:_-]*$/.test(value) && !/^(?:true|false|yes|no|on|off|null|~|[0-9.]+)$/i.test(value)) return value
  return `'${value.replace(/'/g, "''")}'`
}

/** The `inputs:` block of action.yml, from its `inputs:` line to the blank line after the last input. */
export function renderActionInputs(): string {
  const lines = ['inputs:']
  for (const spec of INPUTS as readonly AnyInputSpec[]) {
    // JSON's string form is a YAML double-quoted scalar
    lines.push(`  ${spec.name}:`, `    description: ${JSON.stringify(actionDescription(spec))}`, '    required: false', `    default: ${yamlDefault(spec.default)}`)
  }
  return `${lines.join('\n')}\n`
}

/** The README's Inputs table: header, rule and one row per input, in action.yml's order. */
export function renderReadmeInputs(): string {
  const rows = (INPUTS as readonly AnyInputSpec[]).map((spec) => {
    const def = spec.default !== '' ? `\`${spec.default}\`` : spec.empty ? `empty: ${spec.empty}` : ''
    return `| \`${spec.name}\` |${def ? ` ${def} ` : ' '}| ${spec.summary} |`
  })
  return ['| input | default | accepted |', '| --- | --- | --- |', ...rows].join('\n') + '\n'
}

/** `text` with the part from `start` up to (not including) `end` replaced; throws when either is missing. */
export function replaceBetween(text: string, start: string, end: string, replacement: string): string {
  const a = text.indexOf(start)
  const b = a < 0 ? -1 : text.indexOf(end, a)
  if (a < 0 || b < 0) throw new Error(`cannot find ${JSON.stringify(start)} ... ${JSON.stringify(end)}`)
  return text.slice(0, a) + replacement + text.slice(b)
}

/** The same file with its generated part replaced: action.yml's inputs (before `outputs:`), or the README's table (before the blank line after it). */
export function withActionInputs(actionYml: string): string {
  return replaceBetween(actionYml, '\ninputs:\n', '\noutputs:\n', `\n${renderActionInputs()}`)
}

export function withReadmeInputs(readme: string): string {
  const start = readme.indexOf('\n| input | default | accepted |\n', readme.indexOf('\n## Inputs\n'))
  if (start < 0) throw new Error('README.md has no Inputs table under "## Inputs"')
  const end = readme.indexOf('\n\n', start + 1)
  return readme.slice(0, start + 1) + renderReadmeInputs() + readme.slice(end + 1)
}
