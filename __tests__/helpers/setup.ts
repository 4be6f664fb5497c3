// Loaded before every test file (`node --import`): keeps the action's `::debug::` lines out
// of the test report unless KSN_TEST_DEBUG=1 asks for them, and removes the temporary
// folders (/tmp/ksn-*) the file made once it exits. Booted machines clean up after
// themselves (their folders hold mounts), so they are left to their own shutdown.
import { readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

if (process.env.KSN_TEST_DEBUG !== '1') {
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('::debug::')) return true
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stdout.write
}

const ours = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('ksn-') && !n.startsWith('ksn-system-'))
const before = new Set(ours())
process.on('exit', () => {
  for (const n of ours()) if (!before.has(n)) rmSync(join(tmpdir(), n), { recursive: true, force: true })
})
