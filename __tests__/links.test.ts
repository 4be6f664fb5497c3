// No root file operation in a directory a user owns follows a symbolic link that user could
// have planted. Each case plants one (owned by uid 1001, in a directory of uid 1001's)
// pointing at a root-only file or directory, and shows the action refuses with a message
// naming the link, having run nothing as root. This test runs as root, so it can hand the
// link and its directory to another uid with lchown.
import assert from 'node:assert/strict'
import { chmod, lchown, chown, mkdir, mkdtemp, readFile, symlink, writeFile, rm, lstat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { saveCache } from '../src/commands/save-cache.js'
import type { CommandEnv } from '../src/commands/env.js'
import { readHostFile } from '../src/commands/collect.js'
import { createRun, type Run } from '../src/host/exec.js'
import { createHost, undoChanges } from '../src/host/host.js'
import { Ledger, type Change } from '../src/host/ledger.js'
import { readNoFollow, rootOnlyPath, untrustedLink } from '../src/host/links.js'
import { pathsUnder } from '../src/host/paths.js'
import type { ServiceManager } from '../src/host/services.js'
import { archiveNames } from '../src/images/store.js'
import type { LedgerRecord } from '../src/io/ledger-store.js'
import { readDockerConfig } from '../src/phases/runtime.js'
import { linesReporter } from './helpers/reporter.js'
import { RUNTIMES } from '../src/runtimes/index.js'

const USER = 1001
const services: ServiceManager = { act: async () => {}, status: async () => ({ enabled: 'disabled', active: false }), disable: async () => {}, logs: async () => '' }

let root: string
/** root's: a file only root may read, and a directory only root may write */
let secret: string
let rootDir: string
/** the runner user's home, uid 1001's */
let home: string

/** every command that would have run (as root: the host's commands all are) */
function recorder() {
  const ran: string[] = []
  const run: Run = async (argv) => {
    ran.push(argv.join(' '))
    return { exitCode: 0, stdout: '{}', stderr: '' }
  }
  return { ran, run }
}

/** `fn` with this process's effective uid the user's, as the runner user that reads without sudo */
async function asUser<T>(fn: () => Promise<T>): Promise<T> {
  process.seteuid!(USER)
  try {
    return await fn()
  } finally {
    process.seteuid!(0)
  }
}

/** a link at `at` to `target`, owned by the user, as one an earlier job left */
async function plant(at: string, target: string): Promise<void> {
  await rm(at, { force: true, recursive: true })
  await symlink(target, at)
  await lchown(at, USER, USER)
}

// handing files to another uid takes root: skipped, not failed, as the runner user (CI's npm test)
const needsRoot = process.getuid?.() === 0 ? false : 'needs root: run as root, as .ci/run does'

before(async () => {
  if (needsRoot) return
  root = await mkdtemp(join(tmpdir(), 'ksn-links-'))
  // the user may pass through to their home, as through /home
  await chmod(root, 0o755)
  rootDir = join(root, 'etc')
  await mkdir(rootDir, { mode: 0o700 })
  secret = join(rootDir, 'shadow')
  await writeFile(secret, 'root:SECRET\n', { mode: 0o600 })
  home = join(root, 'home/runner')
  await mkdir(home, { recursive: true })
  await chown(home, USER, USER)
})

describe('symbolic links in a user-owned directory', { skip: needsRoot }, () => {
  it('tells a link a user controls from one root made in its own directory', async () => {
    const mine = join(home, 'kube')
    await plant(mine, rootDir)
    assert.match((await untrustedLink(join(mine, 'config'))) ?? '', /kube is a symbolic link \(to .*\/etc\) owned by uid 1001, which a root command would follow/)
    // root's link in root's directory (/var/run -> /run): trusted
    const roots = join(root, 'run-link')
    await symlink(rootDir, roots)
    assert.equal(await untrustedLink(join(roots, 'x')), undefined)
    // root's link in the user's directory: the user may replace it at any time
    const inHome = join(home, 'roots-link')
    await symlink(rootDir, inHome)
    assert.match((await untrustedLink(inHome)) ?? '', /in .*home\/runner, which uid 1001 owns/)
    // only the last component, where asked: the link above it is let be
    assert.equal(await untrustedLink(join(mine, 'config'), { lastOnly: true }), undefined)
    assert.match((await untrustedLink(mine, { lastOnly: true })) ?? '', /kube is a symbolic link/)
    // a path that does not exist yet, below no link: nothing to follow
    assert.equal(await untrustedLink(join(home, 'nothing/here')), undefined)
  })

  it('writing ~/.kube/config through a planted ~/.kube link is refused, and nothing runs as root', async () => {
    const { ran, run } = recorder()
    const ledger = new Ledger()
    const host = createHost({ run, services, ledger, ...pathsUnder(root), scratch: join(root, 'scratch') })
    await plant(join(home, '.kube'), rootDir)
    await assert.rejects(host.writeFile(join(home, '.kube/config'), 'apiVersion: v1\n', { mode: 0o600, owner: { uid: USER, gid: USER } }), (err: Error) => {
      assert.match(err.message, /^Refusing to write .*\/home\/runner\/\.kube\/config as root: .*\/home\/runner\/\.kube is a symbolic link \(to .*\/etc\) owned by uid 1001/)
      return true
    })
    await assert.rejects(host.ensureDir(join(home, '.kube/cache')), /^Error: Refusing to make the directory .*\.kube\/cache as root/)
    // a downloaded binary in the runner's temporary directory, replaced by a link to root's file
    await plant(join(home, 'kubeadm'), secret)
    await assert.rejects(host.installFile(join(home, 'kubeadm'), join(root, 'usr/local/bin/kubeadm')), /^Error: Refusing to install .*home\/runner\/kubeadm to .* as root: .*kubeadm is a symbolic link \(to .*shadow\)/)
    assert.deepEqual(ran, [])
    assert.deepEqual(ledger.changes, [])
  })

  it("backing up ~/.docker/config.json when it is a link to root's file is refused", async () => {
    const { ran, run } = recorder()
    const host = createHost({ run, services, ledger: new Ledger(), ...pathsUnder(root), scratch: join(root, 'scratch') })
    await rm(join(home, '.docker'), { recursive: true, force: true })
    await mkdir(join(home, '.docker'))
    await chown(join(home, '.docker'), USER, USER)
    await plant(join(home, '.docker/config.json'), secret)
    await assert.rejects(host.writeFile(join(home, '.docker/config.json'), '{}'), /Refusing to write .*config\.json as root: .*config\.json is a symbolic link \(to .*shadow\) owned by uid 1001/)
    assert.deepEqual(ran, [])
  })

  it('the restore refuses a link planted where its copy goes, or in place of the file, and says what to do', async () => {
    const { ran, run } = recorder()
    const kube = join(home, '.kube')
    await rm(kube, { recursive: true, force: true })
    await mkdir(kube)
    await chown(kube, USER, USER)
    const path = join(kube, 'config')
    await writeFile(path, 'the action\'s\n')
    const backup = join(rootDir, '1-abc-config')
    await writeFile(backup, 'the original\n')
    // cp -a BACKUP PATH.kubeadm-single-node-restore would write through this link into root's file
    await plant(`${path}.kubeadm-single-node-restore`, secret)
    const change: Change = { kind: 'file', path, backup }
    const report = await undoChanges([change], { run, services, procSwaps: '', sysClassNet: '' })
    assert.deepEqual(ran, [], 'nothing ran as root')
    assert.equal(report.remaining.length, 1)
    assert.match(report.failed.join('\n'), /config was not put back: .*config\.kubeadm-single-node-restore is a symbolic link \(to .*shadow\) owned by uid 1001, which a root command would follow; nothing was done to it as root\. Remove the link, then put the original back from .*1-abc-config yourself\./)
    assert.equal(await readFile(secret, 'utf8'), 'root:SECRET\n')
    // the file itself replaced by a link; and a file the action made (rm -f) below a planted directory link
    await rm(`${path}.kubeadm-single-node-restore`)
    await plant(path, secret)
    assert.match((await undoChanges([change], { run, services, procSwaps: '', sysClassNet: '' })).failed.join('\n'), /config is a symbolic link/)
    await plant(kube, rootDir)
    const made = await undoChanges([{ kind: 'file', path: join(kube, 'shadow') }], { run, services, procSwaps: '', sysClassNet: '' })
    assert.match(made.failed.join('\n'), /shadow was not removed: .*\.kube is a symbolic link/)
    const dir = await undoChanges([{ kind: 'dir', path: join(kube, 'cache') }], { run, services, procSwaps: '', sysClassNet: '' })
    assert.match(dir.failed.join('\n'), /cache\/ was not removed: .*\.kube is a symbolic link/)
    assert.deepEqual(ran, [])
    // without the links, the same records run as before
    await rm(kube)
    await mkdir(kube)
    await writeFile(path, 'x')
    await undoChanges([change], { run, services, procSwaps: '', sysClassNet: '' })
    assert.deepEqual(ran, [`cp -a --remove-destination ${backup} ${path}.kubeadm-single-node-restore`, `mv -fT ${path}.kubeadm-single-node-restore ${path}`, `rm -f ${backup}`])
  })

  it("the restore into a user's directory is made as that user: ~/.kube made a link to root's directory mid-way writes nothing there", async () => {
    const kube = join(home, '.kube')
    await rm(kube, { recursive: true, force: true })
    await mkdir(kube)
    await chown(kube, USER, USER)
    const path = join(kube, 'config')
    await writeFile(path, "the action's\n")
    await chown(path, USER, USER)
    const backup = join(rootDir, '2-abc-config')
    await writeFile(backup, 'the original\n', { mode: 0o600 })
    const real = createRun({ debug: () => {} })
    const ran: string[] = []
    let swap = false
    // a job racing the restore: after the look at ~/.kube, before the first write
    const run: Run = async (argv, opts) => {
      ran.push(argv.join(' '))
      if (swap && argv[0] === 'cp' || (swap && argv[0] === 'setpriv')) {
        swap = false
        await rm(kube, { recursive: true, force: true })
        await plant(kube, rootDir)
      }
      return real(argv, opts)
    }
    const change: Change = { kind: 'file', path, backup }
    const undo = { run, services, procSwaps: '', sysClassNet: '' }
    assert.deepEqual((await undoChanges([change], undo)).failed, [])
    assert.equal(await readFile(path, 'utf8'), 'the original\n')
    const st = await lstat(path)
    assert.deepEqual([st.uid, st.mode & 0o777], [USER, 0o600])
    assert.equal(ran.filter((c) => /^(cp|mv) /.test(c)).length, 0, 'no cp or mv as root')
    // again, with the swap
    await writeFile(backup, 'the original\n', { mode: 0o600 })
    await writeFile(join(rootDir, 'config'), 'root:SECRET\n', { mode: 0o600 })
    swap = true
    const report = await undoChanges([change], undo)
    assert.equal(report.remaining.length, 1)
    assert.match(report.failed.join('\n'), /config was not put back as uid 1001: .*Permission denied/)
    assert.equal(await readFile(join(rootDir, 'config'), 'utf8'), 'root:SECRET\n', "root's file untouched")
    await assert.rejects(lstat(join(rootDir, 'config.kubeadm-single-node-restore')), /ENOENT/)
    await rm(kube)
  })

  it('~/.docker/config.json is read as the user, never through a link, and never as root in a directory the user owns', async () => {
    const { ran, run } = recorder()
    const dir = join(home, '.docker')
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir)
    await chown(dir, USER, USER)
    const path = join(dir, 'config.json')
    await writeFile(path, '{"auths":{}}', { mode: 0o600 })
    await chown(path, USER, USER)
    assert.deepEqual(await readDockerConfig(run, path), { auths: {} })
    // made a link to root's file between any look and the read: the one open refuses it
    const swapped = async (p: string): Promise<string> => {
      await plant(p, secret)
      return readNoFollow(p)
    }
    await assert.rejects(readDockerConfig(run, path, swapped), /config\.json is a symbolic link \(or lies behind one\), and it lies in a directory a user may change, so it is not read as root: .*Put the file itself there/)
    // the directory above it made a link to root's directory, which holds a config.json: O_NOFOLLOW
    // alone would not see it; the name of what was opened gives it away
    await writeFile(join(rootDir, 'config.json'), '{"root":"SECRET"}', { mode: 0o600 })
    await rm(dir, { recursive: true })
    await plant(dir, rootDir)
    await assert.rejects(readDockerConfig(run, path), /config\.json is a symbolic link \(or lies behind one\)/)
    // a file this user may not read: an error saying what to do, not root's cat
    await rm(dir)
    await mkdir(dir)
    await chown(dir, USER, USER)
    await writeFile(path, '{"auths":{}}', { mode: 0o600 })
    await assert.rejects(asUser(() => readDockerConfig(run, path)), /config\.json is not readable by this user \(uid 1001\), and it lies in a directory a user may change, so it is not read as root: .*sudo chown "\$USER" .*config\.json\) or remove it/)
    assert.equal(ran.filter((c) => c.startsWith('cat')).length, 0, 'nothing read as root')
  })

  it("the diagnostics archive skips a file the user may not read in a user's directory, and a link swapped in, with a line each", async () => {
    const { ran, run } = recorder()
    const dir = join(home, 'cni')
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir)
    await chown(dir, USER, USER)
    const path = join(dir, 'subnet.env')
    await writeFile(path, 'FLANNEL_NETWORK=10.244.0.0/16\n', { mode: 0o600 })
    const skipped: string[] = []
    assert.equal(await asUser(() => readHostFile(run, path, (l) => skipped.push(l))), undefined)
    assert.match(skipped.join('\n'), /subnet\.env: not read: this user may not read it .* so it is not read as root either/)
    await plant(path, secret)
    assert.equal(await readHostFile(run, path, (l) => skipped.push(l)), undefined)
    assert.equal(skipped.length, 2)
    assert.equal(ran.filter((c) => c.startsWith('cat')).length, 0, 'nothing read as root')
    // where root alone could have put it (/etc), root may read what the user may not
    assert.equal(await rootOnlyPath(createRun({ debug: () => {} }), '/etc/passwd'), '/etc/passwd')
    assert.equal(await rootOnlyPath(createRun({ debug: () => {} }), path), undefined)
  })

  it("root's tar never reads an image archive through a user's link", async () => {
    const { ran, run } = recorder()
    const link = join(home, 'images.tar')
    await plant(link, secret)
    // as the user the action runs as, the link's target is unreadable: the fallback to root's tar
    const err = Object.assign(new Error('x'), { cause: Object.assign(new Error('EACCES'), { code: 'EACCES' }) })
    await assert.rejects(archiveNames(run, link, 'image-archives', async () => Promise.reject(err)), /Refusing to read .*images\.tar \(image-archives\) as root: .*images\.tar is a symbolic link/)
    assert.deepEqual(ran, [])
  })

  describe("the cache entry's export", () => {
    const record = (dir: string): LedgerRecord => ({
      changes: [],
      completed: [],
      cleanup: true,
      finished: true,
      kubeconfig: join(home, '.kube/config'),
      paths: pathsUnder(root),
      runtime: 'containerd',
      cni: 'flannel',
      cache: { dir, key: 'ksn-v1-test', exact: false, images: ['registry.k8s.io/pause:3.10.1'], runtime: 'containerd', store: { own: false, containerdMajor: 2 } }
    })
    const env = (run: Run, lines: string[]): CommandEnv => {
      const store = { saveHead: async () => {}, saveChange: async () => {}, save: async () => {}, load: async () => undefined, clear: async () => {} }
      return {
        paths: pathsUnder(root),
        run,
        services,
        io: linesReporter(lines),
        store,
        hostLedger: store,
        hostLedgerFile: join(root, 'ledger.json'),
        where: 'actions',
        cache: { describe: 'test', workDir: join(root, 'work'), unavailable: () => undefined, restore: async () => undefined, save: async () => {} } as unknown as CommandEnv['cache']
      }
    }

    it('is refused when the entry directory is a link the user planted (the export would write through it)', async () => {
      const { ran, run } = recorder()
      const lines: string[] = []
      const dir = join(home, 'entry')
      await plant(dir, rootDir)
      await saveCache(record(dir), env(run, lines))
      assert.deepEqual(ran, [])
      assert.match(lines.join('\n'), /not saved: Refusing to export the cache entry's images to .*entry\/images\.tar as root: .*entry is a symbolic link \(to .*\/etc\) owned by uid 1001/)
    })

    it('gives the archive to the user with chown -h, and not at all when a link took its place', async () => {
      const lines: string[] = []
      const dir = join(home, 'entry')
      await rm(dir, { force: true })
      await mkdir(dir)
      await chown(dir, USER, USER)
      const archive = join(dir, 'images.tar')
      const ran: string[] = []
      let swap = true
      // the export "writes" the archive; a job racing it puts a link in its place
      const run: Run = async (argv) => {
        ran.push(argv.join(' '))
        if (argv.includes('export')) {
          if (swap) await plant(archive, secret)
          else await writeFile(archive, 'tar')
        }
        return { exitCode: 0, stdout: '', stderr: '' }
      }
      const getuid = process.getuid
      process.getuid = () => USER
      try {
        await saveCache(record(dir), env(run, lines))
        const c = record(dir).cache!
        assert.deepEqual(ran, [RUNTIMES.containerd.exportArgv(pathsUnder(root), c.store, join(dir, 'images.tar'), c.images).join(' ')], 'no chown')
        assert.match(lines.join('\n'), /not saved: Refusing to give .*images\.tar to uid 1001 as root: .*images\.tar is a symbolic link \(to .*shadow\)/)
        assert.equal((await lstat(secret)).uid, 0)
        swap = false
        ran.length = 0
        await rm(archive)
        await saveCache(record(dir), env(run, lines))
        assert.equal(ran[1], `chown -h ${USER}:${process.getgid?.()} ${archive}`)
      } finally {
        process.getuid = getuid
      }
    })
  })
})
