// The layers of src/ hold: `npm run lint` runs dependency-cruiser with .dependency-cruiser.mjs.
// Here the same rules run on a copy of src/ into which a test plants the imports they forbid,
// so that a rule that stopped catching them fails this test.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'

const exec = promisify(execFile)
const REPO = resolve(import.meta.dirname, '..')
const DEPCRUISE = join(REPO, 'node_modules', '.bin', 'depcruise')

/** depcruise's exit code and report on `dir`, a copy of the repository's src/ and its configuration. */
async function cruise(dir: string): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(DEPCRUISE, ['src', '--config', '.dependency-cruiser.mjs', '--output-type', 'err'], { cwd: dir })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

describe('the layers of src/', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ksn-layers-'))
    for (const f of ['src', 'tsconfig.json', '.dependency-cruiser.mjs', 'package.json']) await cp(join(REPO, f), join(dir, f), { recursive: true })
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('hold on the tree as it is', async () => {
    const r = await cruise(dir)
    assert.equal(r.code, 0, r.out)
  })

  it('catch an upward import, a cycle, a reach into a plug-in folder and a folder with no layer', async () => {
    const planted: Record<string, string> = {
      // the bottom layer importing the phases
      'src/host/planted-upward.ts': "import { buildPlan } from '../phases/index.js'\nexport const x = buildPlan\n",
      // a generic phase naming one runtime's own module
      'src/phases/planted-reach.ts': "import { PRIVATE_CONTAINERD } from '../runtimes/containerd/driver.js'\nexport const y = PRIVATE_CONTAINERD\n",
      // two modules importing each other
      'src/engine/planted-a.ts': "import { b } from './planted-b.js'\nexport const a = (): number => b()\n",
      'src/engine/planted-b.ts': "import { a } from './planted-a.js'\nexport const b = (): number => a()\n",
      // a folder the rules do not place
      'src/misc/planted.ts': "import { HOST_PATHS } from '../host/paths.js'\nexport const z = HOST_PATHS\n"
    }
    for (const [path, text] of Object.entries(planted)) {
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), text)
    }
    const r = await cruise(dir)
    assert.notEqual(r.code, 0)
    assert.match(r.out, /no-upward-from-base: src\/host\/planted-upward\.ts → src\/phases\/index\.ts/)
    assert.match(r.out, /plug-in-folders-are-their-own: src\/phases\/planted-reach\.ts → src\/runtimes\/containerd\/driver\.ts/)
    assert.match(r.out, /no-circular: src\/engine\/planted-a\.ts/)
    assert.match(r.out, /every-module-in-a-layer: src\/misc\/planted\.ts/)
  })
})
