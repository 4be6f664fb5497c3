// Loaded before every test file (`node --import`): keeps the action's `::debug::` lines out
// of the test report unless KSN_TEST_DEBUG=1 asks for them, and removes the temporary
// folders (/tmp/ksn-*) this process made, once it exits. Only its own: test files may run
// side by side. Booted machines clean up after themselves (their folders hold mounts).
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename } from 'node:path'

if (process.env.KSN_TEST_DEBUG !== '1') {
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('::debug::')) return true
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stdout.write
}

const made: string[] = []
const ours = (dir: string): string => {
  if (dir.startsWith(`${tmpdir()}/ksn-`) && !basename(dir).startsWith('ksn-system-')) made.push(dir)
  return dir
}
const require = createRequire(import.meta.url)
const fs = require('node:fs')
const fsp = require('node:fs/promises')
const { mkdtemp, mkdtempSync } = { mkdtemp: fsp.mkdtemp, mkdtempSync: fs.mkdtempSync }
fsp.mkdtemp = async (...args: unknown[]) => ours(await mkdtemp(...args))
fs.mkdtempSync = (...args: unknown[]) => ours(mkdtempSync(...args))
syncBuiltinESMExports()

process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})
