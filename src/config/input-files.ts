// The files the inputs name: every image-archives path, a local cni-manifest and a
// kubeadm-config file must be a readable regular file; kubeadm-config's is also read here,
// before the plan is built from it. Asked before anything changes (and in the dry run), so that a typo
// stops the run up front instead of minutes later at the import or the manifest. Only looks:
// stat and access, nothing opened, nothing written.
import { constants, type Stats } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { kubeadmSecrets, parseKubeadmDocuments } from './kubeadm-config.js'
import { InputError, type Config } from './inputs.js'

/** The file-system calls this module makes; tests pass their own. */
export interface FileProbe {
  stat(path: string): Promise<Stats>
  lstat(path: string): Promise<Stats>
  access(path: string, mode: number): Promise<void>
}

const nodeProbe: FileProbe = { stat: fsp.stat, lstat: fsp.lstat, access: fsp.access }

/** Reads a file the inputs name; tests pass their own. */
export type ReadText = (path: string) => Promise<string>

const nodeRead: ReadText = (path) => fsp.readFile(path, 'utf8')

const ACCEPTED = 'an existing regular file this process can read'

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory'
  if (s.isFIFO()) return 'a named pipe'
  if (s.isSocket()) return 'a socket'
  if (s.isCharacterDevice()) return 'a character device'
  if (s.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code

function who(): string {
  const uid = process.getuid?.()
  return uid === undefined ? 'this process' : `this process, uid ${uid},`
}

/** What is wrong with one path, or undefined when it is a readable regular file. */
async function fileProblem(path: string, probe: FileProbe): Promise<string | undefined> {
  let st: Stats
  try {
    st = await probe.stat(path)
  } catch (err) {
    switch (errCode(err)) {
      case 'ENOENT': {
        const link = await probe.lstat(path).then(
          (l) => l.isSymbolicLink(),
          () => false
        )
        return link ? 'missing (a symbolic link whose target does not exist)' : 'missing'
      }
      case 'ENOTDIR':
        return 'missing (a part of the path before the file name is not a directory)'
      case 'EACCES':
        return `not readable (${who()} may not search a directory on the way)`
      case 'ELOOP':
        return 'missing (a loop of symbolic links)'
      default:
        return `not readable (${(err as Error).message})`
    }
  }
  if (!st.isFile()) return `not a file (${kindOf(st)})`
  try {
    await probe.access(path, constants.R_OK)
  } catch {
    return `not readable (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}; ${who()} may not read it)`
  }
  return undefined
}

const isUrl = (s: string): boolean => /^https?:\/\//.test(s)

/**
 * One problem per named file that is missing, not a regular file, or not readable, naming the
 * input and the path (and, for a relative path, where it was looked for). Empty when all is well.
 */
export async function inputFileProblems(config: Config, probe: FileProbe = nodeProbe): Promise<string[]> {
  const named: Array<[string, string]> = config.imageArchives.map((p) => ['image-archives', p])
  if (config.cniManifest !== undefined && !isUrl(config.cniManifest)) named.push(['cni-manifest', config.cniManifest])
  if (config.kubeadmConfig?.path !== undefined) named.push(['kubeadm-config', config.kubeadmConfig.path])
  const seen = new Set<string>()
  const problems: string[] = []
  for (const [input, path] of named) {
    const key = `${input}\0${path}`
    if (seen.has(key)) continue
    seen.add(key)
    const what = await fileProblem(path, probe)
    if (what !== undefined) problems.push(pathProblem(input, path, what))
  }
  return problems
}

function pathProblem(input: string, path: string, what: string): string {
  const where = isAbsolute(path) ? '' : ` (looked for at ${resolve(path)})`
  return `Input '${input}' has the path ${JSON.stringify(path)}${where}, which is ${what}; accepted: ${ACCEPTED}.`
}

/**
 * The config with kubeadm-config's file read into documents (unchanged when the YAML was
 * inline or not given). Throws InputError when the file cannot be read or its documents are
 * not kubeadm configuration, as for an inline value. `secret` is given its bootstrap tokens and
 * certificate key as soon as the file is read, as parseInputs gives it inline ones: the action
 * masks them (core.setSecret) before anything could print them.
 */
export async function readKubeadmConfigFile(config: Config, probe: FileProbe = nodeProbe, read: ReadText = nodeRead, secret: (value: string) => void = () => {}): Promise<Config> {
  const given = config.kubeadmConfig
  if (given?.path === undefined || given.patches !== undefined) return config
  const what = await fileProblem(given.path, probe)
  if (what !== undefined) throw new InputError([pathProblem('kubeadm-config', given.path, what)])
  const text = await read(given.path)
  const { patches, problems } = parseKubeadmDocuments(text, `Input 'kubeadm-config' (the file ${JSON.stringify(given.path)})`)
  for (const s of kubeadmSecrets(patches)) secret(s)
  if (problems.length > 0) throw new InputError(problems)
  return { ...config, kubeadmConfig: { path: given.path, patches } }
}
