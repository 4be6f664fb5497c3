import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { InputError, parseInputs, type Config } from '../src/inputs/parse.js'
import { inputFileProblems, readKubeadmConfigFile, type FileProbe } from '../src/config/input-files.js'

const config = (inputs: Record<string, string>): Config => parseInputs((n) => inputs[n] ?? '')
const ACCEPTED = '; accepted: an existing regular file this process can read.'
const isRoot = process.getuid?.() === 0

describe('inputFileProblems', () => {
  let dir: string
  const at = (name: string): string => join(dir, name)

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'input-files-'))
    writeFileSync(at('good.tar'), 'x')
    writeFileSync(at('a,b#1.tar'), 'x')
    writeFileSync(at('flannel.yml'), 'kind: List\n')
    mkdirSync(at('images.d'))
    writeFileSync(at('plain'), 'x')
    symlinkSync(at('gone.tar'), at('dangling.tar'))
    symlinkSync(at('good.tar'), at('link.tar'))
    execFileSync('mkfifo', [at('pipe.tar')])
    writeFileSync(at('secret.tar'), 'x')
    chmodSync(at('secret.tar'), 0o000)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('finds nothing wrong with readable regular files, a symbolic link to one, and a URL manifest', async () => {
    const c = config({ 'image-archives': [at('good.tar'), at('a,b#1.tar'), at('link.tar')].join('\n'), 'cni-manifest': 'https://example.com/missing.yml' })
    assert.deepEqual(await inputFileProblems(c), [])
    assert.deepEqual(await inputFileProblems(config({ 'cni-manifest': at('flannel.yml') })), [])
    assert.deepEqual(await inputFileProblems(config({})), [])
  })

  it('reports a missing archive, naming the input and the path', async () => {
    const p = at('nope.tar')
    assert.deepEqual(await inputFileProblems(config({ 'image-archives': p })), [`Input 'image-archives' has the path ${JSON.stringify(p)}, which is missing${ACCEPTED}`])
  })

  it('reports one problem per bad file, all at once, in input order, each file once', async () => {
    const c = config({ 'image-archives': [at('nope-1.tar'), at('good.tar'), at('images.d'), at('nope-1.tar')].join('\n'), 'cni-manifest': at('nope.yml') })
    const problems = await inputFileProblems(c)
    assert.equal(problems.length, 3, problems.join('\n'))
    assert.match(problems[0], /^Input 'image-archives' has the path ".*nope-1\.tar", which is missing;/)
    assert.match(problems[1], /^Input 'image-archives' has the path ".*images\.d", which is not a file \(a directory\);/)
    assert.match(problems[2], /^Input 'cni-manifest' has the path ".*nope\.yml", which is missing;/)
  })

  it('checks a local cni-manifest and never a URL one', async () => {
    assert.match((await inputFileProblems(config({ 'cni-manifest': at('images.d') })))[0], /^Input 'cni-manifest' .* which is not a file \(a directory\);/)
    assert.deepEqual(await inputFileProblems(config({ 'cni-manifest': 'http://127.0.0.1:1/nowhere.yml' })), [])
  })

  it('says what else is wrong: not a regular file, a dangling link, a file used as a directory', async () => {
    const problems = await inputFileProblems(config({ 'image-archives': [at('pipe.tar'), at('dangling.tar'), at('plain/x.tar')].join('\n') }))
    assert.deepEqual(
      problems.map((p) => p.replace(/^Input 'image-archives' has the path "[^"]*", which is /, '').replace(ACCEPTED, '')),
      ['not a file (a named pipe)', 'missing (a symbolic link whose target does not exist)', 'missing (a part of the path before the file name is not a directory)']
    )
  })

  it('says where a relative path was looked for', async () => {
    const rel = relative(process.cwd(), at('nope.tar'))
    const [p] = await inputFileProblems(config({ 'image-archives': rel }))
    assert.equal(p, `Input 'image-archives' has the path ${JSON.stringify(rel)} (looked for at ${resolve(rel)}), which is missing${ACCEPTED}`)
  })

  it('reports a file this process may not read', { skip: isRoot && 'root reads any file; the probe-driven test below covers it' }, async () => {
    const [p] = await inputFileProblems(config({ 'image-archives': at('secret.tar') }))
    assert.match(p, /which is not readable \(mode 0000, owner uid \d+; this process, uid \d+, may not read it\);/)
  })

  it('reports a file the probe finds unreadable, and a directory on the way that may not be searched', async () => {
    const denied = (path: string): NodeJS.ErrnoException => Object.assign(new Error(`EACCES: permission denied, '${path}'`), { code: 'EACCES' })
    const probe: FileProbe = {
      stat: async (path) => {
        if (path.includes('locked')) throw denied(path)
        return fsp.stat(path)
      },
      lstat: fsp.lstat,
      access: async (path, mode) => {
        if (path.endsWith('good.tar')) throw denied(path)
        return fsp.access(path, mode)
      }
    }
    const problems = await inputFileProblems(config({ 'image-archives': `${at('good.tar')}\n/locked/x.tar\n${at('link.tar')}` }), probe)
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.match(problems[0], /good\.tar", which is not readable \(mode 0\d{3}, owner uid \d+; this process, uid \d+, may not read it\);/)
    assert.match(problems[1], /^Input 'image-archives' has the path "\/locked\/x\.tar", which is not readable \(this process, uid \d+, may not search a directory on the way\);/)
  })

  it('reads a kubeadm-config file into documents, and checks its path with the others', async () => {
    writeFileSync(at('kubeadm.yaml'), 'kind: KubeletConfiguration\nmaxPods: 50\n')
    const c = config({ 'kubeadm-config': at('kubeadm.yaml') })
    assert.deepEqual(c.kubeadmConfig, { path: at('kubeadm.yaml') })
    assert.deepEqual(await inputFileProblems(c), [])
    const read = await readKubeadmConfigFile(c)
    assert.deepEqual(read.kubeadmConfig, { path: at('kubeadm.yaml'), patches: [{ kind: 'KubeletConfiguration', apiVersion: undefined, fields: { maxPods: 50 }, doc: 1 }] })
    assert.equal(await readKubeadmConfigFile(read), read, 'read once')
    const inline = config({ 'kubeadm-config': 'kind: KubeletConfiguration\nmaxPods: 1\n' })
    assert.equal(await readKubeadmConfigFile(inline), inline, 'inline YAML needs no file')
  })

  it('refuses a kubeadm-config file that is missing or holds no kubeadm configuration, naming the file', async () => {
    const missing = config({ 'kubeadm-config': at('nope.yaml') })
    assert.match((await inputFileProblems(missing))[0], /^Input 'kubeadm-config' has the path ".*nope\.yaml", which is missing;/)
    await assert.rejects(readKubeadmConfigFile(missing), (err: unknown) => err instanceof InputError && /^Input 'kubeadm-config' has the path ".*nope\.yaml", which is missing; accepted: an existing regular file/.test(err.message))
    writeFileSync(at('join.yaml'), 'kind: JoinConfiguration\n---\nkind: ClusterConfiguration\nnetworking: [\n')
    await assert.rejects(readKubeadmConfigFile(config({ 'kubeadm-config': at('join.yaml') })), (err: unknown) => {
      assert.ok(err instanceof InputError)
      assert.equal(err.problems.length, 2, err.message)
      assert.match(err.problems[0], new RegExp(`^Input 'kubeadm-config' \\(the file ${JSON.stringify(at('join.yaml')).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\) has document 1 of kind "JoinConfiguration"`))
      assert.match(err.problems[1], /\(the file .*join\.yaml"\) is not valid YAML/)
      return true
    })
  })
})
