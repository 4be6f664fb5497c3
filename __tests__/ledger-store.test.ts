// The record the post step reads, as the Actions state keeps it: each change saved on its
// own as it happens, the head where it changes; so the state the runner appends to grows
// linearly with the changes, and the post step reads back exactly what was saved.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { Change } from '../src/host/ledger.js'
import { Ledger } from '../src/host/ledger.js'
import { pathsUnder } from '../src/host/paths.js'
import { parseStateRecord } from '../src/io/host-ledger.js'
import { actionsStateStore, headOf, type LedgerRecord } from '../src/io/ledger-store.js'
import { parseCommandFile } from './helpers/runner.js'

const saved = { ...process.env }
const paths = pathsUnder('/tmp/ksn-state-host')
/** the post step's schema, for this layout (the runner user's home: /home/runner) */
const store = () => actionsStateStore((raw) => parseStateRecord(raw, { paths, home: '/home/runner', known: { runtimes: ['containerd', 'docker'], cnis: ['flannel'], addons: [] }, cacheDir: '/tmp/ksn-state-cache' }))
after(() => {
  process.env = saved
})

/** A main step that records `n` changes (and ends a step every ten), into a fresh state file; then the post step's view of it. */
async function run(n: number): Promise<{ bytes: number; state: Record<string, string>; record: LedgerRecord }> {
  const dir = await mkdtemp(join(tmpdir(), 'ksn-state-'))
  const file = join(dir, 'state')
  await writeFile(file, '')
  for (const k of Object.keys(process.env)) if (k.startsWith('STATE_')) delete process.env[k]
  process.env.GITHUB_STATE = file
  const st = store()
  const rec: LedgerRecord = { changes: [], completed: [], cleanup: true, kubeconfig: '/home/runner/.kube/config', paths, runtime: 'containerd', cni: 'flannel' }
  await st.saveHead(headOf(rec))
  const ledger = new Ledger((c, i) => {
    rec.changes[i] = c
    return st.saveChange(i, c)
  })
  for (let i = 0; i < n; i++) {
    await ledger.record({ kind: 'file', path: join(paths.binDir, `tool-${i}`), backup: join(paths.backupDir, `${i}-0123abcd-tool-${i}`) })
    if (i % 10 === 9) {
      rec.completed.push('host.kernel')
      await st.saveHead(headOf(rec))
    }
  }
  const bytes = (await stat(file)).size
  // the runner hands the post step the last value of each key, as STATE_<key>
  const state = parseCommandFile(await readFile(file, 'utf8'))
  for (const [k, v] of Object.entries(state)) process.env[`STATE_${k}`] = v
  return { bytes, state, record: (await store().load())! }
}

describe('the record saved for the post step', () => {
  it('grows linearly with the changes: each change is written once, not the whole record again', async () => {
    const small = await run(20)
    const large = await run(200)
    const perChange = (large.bytes - small.bytes) / 180
    // a change's own JSON with the runner's key and delimiters (~300 bytes), the count saved
    // after it (~130 bytes: the runner's delimiters are most of it), and a tenth of a head
    assert.ok(perChange < 700, `${perChange} bytes per change`)
    // ten times the changes, about ten times the bytes (the whole record each time would be ~100 times)
    assert.ok(large.bytes / small.bytes < 11, `${small.bytes} bytes for 20 changes, ${large.bytes} for 200`)
    assert.equal(large.record.changes.length, 200)
    assert.deepEqual(large.record.changes[199], { kind: 'file', path: join('/tmp/ksn-state-host/usr/local/bin', 'tool-199'), backup: join('/tmp/ksn-state-host/var/lib/kubeadm-single-node/backup', '199-0123abcd-tool-199') })
    assert.equal(large.record.completed.length, 20, 'the head as last saved')
  })

  it('a shorter record saved later (a cleanup that left some changes) is read back as saved, not with the old tail', async () => {
    const { record } = await run(5)
    const left: Change[] = [record.changes[1], record.changes[3]]
    await store().save({ ...record, changes: left })
    const state = parseCommandFile(await readFile(process.env.GITHUB_STATE!, 'utf8'))
    for (const [k, v] of Object.entries(state)) process.env[`STATE_${k}`] = v
    assert.deepEqual((await store().load())!.changes, left)
  })

  it('reads as many changes as the head counts: a key past them, added to the environment, is never read', async () => {
    const { record, state } = await run(3)
    assert.equal(state['kubeadm-single-node-changes'], '3')
    process.env['STATE_kubeadm-single-node-change-3'] = JSON.stringify({ kind: 'dir', path: join(paths.binDir, 'planted') })
    assert.deepEqual((await store().load())!.changes, record.changes)
  })
})
