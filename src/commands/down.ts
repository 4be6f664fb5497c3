// down (the post step's cleanup): kubeadm reset and every other recorded change undone,
// newest first, from the ledger and nothing else. What the ledger records but is left in
// place on purpose (packages, kernel modules) is said, not undone. With dryRun, the same undo
// runs against a stand-in that only records each command: it is printed, and nothing on the
// host or in the ledger changes.
import { displayArgv, type Run } from '../host/exec.js'
import { undoChanges } from '../host/changes/index.js'
import { systemd } from '../host/services.js'
import type { LedgerRecord } from '../io/ledger-store.js'
import type { CommandEnv } from './env.js'

/** A Run that runs nothing: it records each command, and whether it would run as root, and says it succeeded. */
function recordingRun(commands: string[]): Run {
  return async (argv, o = {}) => {
    commands.push(`$ ${displayArgv(argv)}${o.privileged ? '   (as root)' : ''}`)
    return { exitCode: 0, stdout: '', stderr: '' }
  }
}

export async function down(record: LedgerRecord, env: CommandEnv, o: { dryRun?: boolean } = {}): Promise<{ failed: number }> {
  const { io } = env
  if (record.changes.length === 0) {
    io.info('Nothing to undo: the ledger records no host change.')
    if (!o.dryRun) await env.store.clear()
    return { failed: 0 }
  }
  const commands: string[] = []
  const run = o.dryRun ? recordingRun(commands) : env.run
  const services = o.dryRun ? systemd(run) : env.services
  const r = await undoChanges(record.changes, { run, services, procSwaps: env.paths.procSwaps, sysClassNet: env.paths.sysClassNet, procMounts: env.paths.procMounts })
  if (o.dryRun) {
    io.block(`Cleanup (dry run: nothing on this host is changed): ${r.undone.length} changes would be undone`, [
      ...commands,
      ...r.undone.map((l) => `would undo: ${l}`),
      ...r.leftInPlace.map((l) => `left in place: ${l}`)
    ])
    return { failed: 0 }
  }
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
