// cri-tools' real crictl and critest (v1.36.0) for the booted machine: crictl is what the action
// downloads and runs (the release mirror serves it, serve.ts), critest is cri-tools' CRI
// validation suite (critest.ts). Neither is packaged in Debian, and GitHub is not reachable
// here, so they come, in this order, from:
//   1. ../shared/tools/cri-tools beside the repository (CI clones the repo with shared/ next
//      to it): its install.sh unpacks both into a temporary directory and checks their SHA-256;
//   2. crictl and critest on the PATH;
// and a test that needs one that is missing is skipped, saying what to install.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const REPO_ROOT = resolve(import.meta.dirname, '../..')
/** Where CI puts the tools: ../shared/tools/cri-tools, relative to the repository's root. */
export const SHARED_CRI_TOOLS = resolve(REPO_ROOT, '../shared/tools/cri-tools')
/** The cri-tools release the shared copy holds, and what the suite asks for on the PATH. */
export const CRI_TOOLS_VERSION = 'v1.36.0'

const HOW =
  `install cri-tools ${CRI_TOOLS_VERSION} (kubernetes-sigs/cri-tools: \`go install sigs.k8s.io/cri-tools/cmd/crictl@${CRI_TOOLS_VERSION}\`, ` +
  `and critest from \`go test -c ./cmd/critest\` at that tag) onto the PATH, or put its unpacker at ${SHARED_CRI_TOOLS}/install.sh`

export interface CriTools {
  crictl?: string
  critest?: string
  /** where they came from, for the report */
  from: string
}

let found: CriTools | undefined

function onPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, bin))) return join(d, bin)
  return undefined
}

/** The tools, found once per process (the shared copy is unpacked and its digests checked then). */
export function criTools(): CriTools {
  if (found) return found
  const installer = join(SHARED_CRI_TOOLS, 'install.sh')
  if (existsSync(installer)) {
    // ksn- prefix: __tests__/helpers/setup.ts removes it when this process exits
    const dir = mkdtempSync(join(tmpdir(), 'ksn-cri-tools-'))
    execFileSync('sh', [installer, dir], { stdio: ['ignore', 'ignore', 'pipe'] })
    found = { crictl: join(dir, 'crictl'), critest: join(dir, 'critest'), from: `${SHARED_CRI_TOOLS} (install.sh, digests checked)` }
  } else {
    found = { crictl: onPath('crictl'), critest: onPath('critest'), from: 'the PATH' }
  }
  return found
}

/** undefined when the real crictl is here; otherwise why a test needing it is skipped. */
export function crictlMissing(): string | undefined {
  return criTools().crictl ? undefined : `no real crictl: ${HOW}`
}

/** undefined when critest is here; otherwise why a test needing it is skipped. */
export function critestMissing(): string | undefined {
  return criTools().critest ? undefined : `no critest: ${HOW}`
}

/** The real crictl's bytes (throws when there is none: check crictlMissing() first). */
export function crictlBinary(): Buffer {
  const p = criTools().crictl
  if (!p) throw new Error(crictlMissing())
  return readFileSync(p)
}
