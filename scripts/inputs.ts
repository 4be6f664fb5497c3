// npm run inputs: writes action.yml's inputs and the README's Inputs table from
// src/config/input-table.ts, the one place inputs are declared. __tests__/input-docs.test.ts
// fails when either file differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs'
import { withActionInputs, withReadmeInputs } from '../src/inputs/docs.js'

for (const [file, rewrite] of [
  ['action.yml', withActionInputs],
  ['README.md', withReadmeInputs]
] as const) {
  const before = readFileSync(file, 'utf8')
  const after = rewrite(before)
  if (after !== before) writeFileSync(file, after)
  console.log(`${file}: ${after === before ? 'unchanged' : 'written'}`)
}
