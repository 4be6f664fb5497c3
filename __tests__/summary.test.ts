import assert from 'node:assert/strict'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { writeSummary } from '../src/io/summary.js'

describe('the job summary', () => {
  const saved = process.env.GITHUB_STEP_SUMMARY
  let file: string
  before(async () => {
    file = join(await mkdtemp(join(tmpdir(), 'ksn-summary-')), 'summary.md')
    await writeFile(file, '')
    process.env.GITHUB_STEP_SUMMARY = file
    // core.summary remembers the first file it wrote to
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  })
  after(() => {
    process.env.GITHUB_STEP_SUMMARY = saved
    ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  })

  it('shows the plan, the facts and the notes as text: placeholders stay, markup from inputs does not become HTML', async () => {
    await writeSummary({ kind: 'plan', text: "write /etc/containerd/config.toml\n  | auth = '<registry-credentials: token for docker.io>'\n  $ install '<rendered>' /x" })
    await writeSummary({ kind: 'run', headline: 'Ready in 1.0 s: nginx answered at http://10.1.0.4:31234/?<i>', facts: [['node', '<b>runnervm</b>']], timings: [], total: 1, notes: ["kubeadm-config: networking: {dnsDomain: '<script>alert(1)</script>'}"] })
    await writeSummary({ kind: 'failure', message: 'preload failed for <image>' })
    const text = await readFile(file, 'utf8')
    assert.match(text, /&lt;registry-credentials: token for docker\.io&gt;/)
    assert.match(text, /install '&lt;rendered&gt;' \/x/)
    assert.match(text, /&lt;b&gt;runnervm&lt;\/b&gt;/)
    assert.match(text, /^<p><strong>Ready in 1\.0 s: nginx answered at http:\/\/10\.1\.0\.4:31234\/\?&lt;i&gt;<\/strong><\/p>/m, 'the first line of the run, escaped')
    assert.match(text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
    assert.match(text, /preload failed for &lt;image&gt;/)
    assert.doesNotMatch(text, /<script>|<b>runnervm|<rendered>|<image>/)
  })
})
