// kubeadm-config's secrets (bootstrap tokens, certificateKey) are masked in the Actions log
// whether the YAML is given inline or as a file: the runner hides a value only once it has
// seen ::add-mask:: for it, so the masks must come before any other line of the run.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as core from '@actions/core'
import { actionMain } from '../src/entry/action.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { layRunner } from './helpers/host-tree.js'
import { inputEnv, sandbox, type Sandbox } from './helpers/runner.js'

const TOKEN = 'q9w8e7.0123456789qwerty'
const KEY = 'b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2'
const YAML = `kind: InitConfiguration\nbootstrapTokens:\n- token: ${TOKEN}\n  ttl: 1h\ncertificateKey: ${KEY}\n`

/** The Actions log of a dry run with these inputs. */
async function dryRun(sb: Sandbox, inputs: Record<string, string>): Promise<string> {
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k]
  Object.assign(process.env, sb.env, { HOME: join(sb.root, 'home/runner') }, inputEnv({ 'dry-run': 'true', 'kubernetes-version': 'v1.34.2', 'plan-dir': join(sb.dir, `plan-${Math.random()}`), ...inputs }))
  ;(core.summary as unknown as { _filePath?: string })._filePath = undefined
  const out: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
  try {
    await actionMain(HOST_PATHS)
  } finally {
    process.stdout.write = write
  }
  return out.join('')
}

function assertMasked(log: string): void {
  const lines = log.split('\n')
  const masks = lines.filter((l) => l.startsWith('::add-mask::'))
  assert.ok(masks.includes(`::add-mask::${TOKEN}`) && masks.includes(`::add-mask::${KEY}`), log)
  assert.ok(lines.slice(0, masks.length).every((l) => l.startsWith('::add-mask::')), 'the masks come before any other line')
  for (const l of lines.filter((x) => !x.startsWith('::add-mask::'))) assert.ok(!l.includes(TOKEN) && !l.includes(KEY), `logged: ${l}`)
}

describe('kubeadm-config secrets in the log', () => {
  let sb: Sandbox
  const savedEnv = { ...process.env }
  before(async () => {
    sb = await sandbox()
    await layRunner(sb.root)
  })
  after(() => {
    process.env = savedEnv
    process.exitCode = undefined
  })

  it('masks a bootstrap token and the certificate key from a kubeadm-config file before anything else is logged, even when the file is refused; and inline ones', async () => {
    const file = join(sb.dir, 'kubeadm.yaml')
    await writeFile(file, YAML)
    const log = await dryRun(sb, { 'kubeadm-config': file })
    assert.equal(process.exitCode, undefined, log)
    assertMasked(log)

    // even when the file has a problem and the run stops
    const bad = join(sb.dir, 'bad.yaml')
    await writeFile(bad, `${YAML}---\nkind: JoinConfiguration\n`)
    const failed = await dryRun(sb, { 'kubeadm-config': bad })
    assert.equal(process.exitCode, 1)
    process.exitCode = undefined
    assert.match(failed, /::error::Input 'kubeadm-config' \(the file .*bad\.yaml"\) has document 2 of kind \\"JoinConfiguration\\"|::error::Input 'kubeadm-config' \(the file .*bad\.yaml.*JoinConfiguration/)
    assertMasked(failed)

    // and inline, as before
    const inline = await dryRun(sb, { 'kubeadm-config': YAML })
    assert.equal(process.exitCode, undefined, inline)
    assertMasked(inline)
  })
})
