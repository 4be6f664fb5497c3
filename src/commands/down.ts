// down (the post step's cleanup): kubeadm reset and every other recorded change undone,
// newest first, from the ledger and nothing else. What the ledger records but is left in
// place on purpose (packages, kernel modules) is said, not undone.
import { undoChanges } from '../host/changes/index.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import type { CommandEnv } from './env.js'

export async function down(record: LedgerRecord, env: CommandEnv): Promise<{ failed: number }> {
  const { io } = env
  if (record.changes.length === 0) {
    io.info('Nothing to undo: the ledger records no host change.')
    await env.store.clear()
    return { failed: 0 }
  }
  const r = await undoChanges(record.changes, { run: env.run, services: env.services, procSwaps: env.paths.procSwaps, sysClassNet: env.paths.sysClassNet, procMounts: env.paths.procMounts })
  const lines = [
    ...r.undone.map((l) => `undone: ${l}`),
    ...r.restarted.map((l) => `then: ${l}`),
    ...r.leftInPlace.map((l) => `left in place: ${l}`),
    ...r.failed.map((l) => `FAILED: ${l}`)
  ]
  io.block(`Cleanup: ${r.undone.length} changes undone${r.failed.length ? `, ${r.failed.length} failed` : ''}`, lines)
  for (const f of r.failed) io.warning(`cleanup: ${f}`)
  await io.summary({ kind: 'cleanup', lines })
  // what was undone is gone from the record: a second cleanup only retries what failed
  if (r.remaining.length === 0) await env.store.clear()
  else await env.store.save({ ...record, changes: r.remaining })
  return { failed: r.failed.length }
}
