// binaries: every download verified against its published checksum, all at once, each
// taken from the runner's tool cache when it is there; kubeadm, kubelet and kubectl from
// Kubernetes' node tarball, the smaller form, unless they come from this machine.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CNI_PLUGINS_VERSION } from '../config/defaults.js'
import { step, type Step } from '../engine/step.js'
import { cachedBinary, cachedTarball, isNotPublished, onThisMachine, verifyLine, type Artifact } from '../host/download.js'
import { installArgv, mkdirArgv } from '../host/host.js'
import { displayArgv } from '../host/exec.js'
import { kubeadmDropIn, kubeletUnit } from '../render/systemd.js'
import { crictlReleases, NODE_TARBALL_BIN, nodeTarball } from './artifacts.js'
import type { PlanContext } from './context.js'

const EXEC = { mode: 0o755 }

/** The plugins in the CNI tarball: its executables, not the README.md and LICENSE beside them. */
export async function pluginFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort()
  const isPlugin = await Promise.all(names.map(async (n) => ((await stat(join(dir, n))).mode & 0o111) !== 0 && !/\.(md|txt)$|^LICENSE/i.test(n)))
  return names.filter((_, i) => isPlugin[i])
}

type KubeBinary = 'kubeadm' | 'kubelet' | 'kubectl'

/**
 * Where kubeadm, kubelet and kubectl come from. From a mirror on this machine (an offline
 * one, a test's) bytes cost nothing and the bare binaries are what such a mirror is known to
 * hold; from anywhere else, Kubernetes' node tarball, fetched once for all three: less than
 * half the bytes. A mirror without the tarball (404) gets the bare binaries, said in the log;
 * a checksum mismatch is never a reason to fetch elsewhere.
 */
export function kubernetesBinaries(
  p: Pick<PlanContext, 'config' | 'version' | 'facts' | 'arts' | 'cache'>,
  /** the form to fetch; bench:fetch weighs both over one link */
  form: 'node-tarball' | 'bare' = onThisMachine(p.arts.kubeadm.url) ? 'bare' : 'node-tarball'
): { node?: Artifact; get(name: KubeBinary, log: (l: string) => void): Promise<string> } {
  const { config, version, facts, arts, cache } = p
  const node = form === 'bare' ? undefined : nodeTarball(config, version, facts.arch)
  const bare = (name: KubeBinary, log: (l: string) => void): Promise<string> => cachedBinary(arts[name], { tool: name, version, arch: facts.arch }, log, cache)
  let nodeDir: Promise<string> | undefined
  return {
    node,
    get: async (name, log) => {
      if (!node) return bare(name, log)
      try {
        return join(await (nodeDir ??= cachedTarball(node, { tool: 'kubernetes-node', version, arch: facts.arch }, log, cache)), NODE_TARBALL_BIN, name)
      } catch (err) {
        if (!isNotPublished(err)) throw err
        log(`${node.url} is not published there: ${name} as a bare binary`)
        return bare(name, log)
      }
    }
  }
}

export function binarySteps(p: PlanContext): Step[] {
  const { config, facts, version, paths, bin, arts, criSocket, cache } = p
  // the downloads wait for the cache entry, which may hold them
  const after: Step['needs'] = cache ? ['cache.restore'] : []
  const steps: Step[] = []
  const verify = (a: (typeof arts)[keyof typeof arts]): string[] => [`GET ${a.url} (unless the tool cache${cache ? ' or the cache entry' : ''} has it)`, verifyLine(a)]
  const kube = kubernetesBinaries(p)
  const node = kube.node
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    steps.push(
      step(`binaries.${name}`, `${name} ${version}`, after, [
        {
          kind: 'task',
          title: `download and verify ${name}`,
          shows: node
            ? [
                `GET ${node.url} once for kubeadm, kubelet and kubectl (unless the tool cache${cache ? ' or the cache entry' : ''} has it)`,
                verifyLine(node),
                `extract ${NODE_TARBALL_BIN}/${name}`,
                'if the tarball is not published there, the bare binary:',
                ...verify(arts[name]),
                `$ sudo ${displayArgv(installArgv('<extracted or downloaded>', bin(name), EXEC))}`
              ]
            : [...verify(arts[name]), `$ sudo ${displayArgv(installArgv('<download>', bin(name), EXEC))}`],
          run: async (ctx) => {
            const path = await kube.get(name, ctx.log)
            await ctx.host.installFile(path, bin(name), EXEC)
          }
        }
      ])
    )
  }
  const [crictl, ...older] = crictlReleases(config, version, facts.arch)
  const olderNames = older.map((r) => r.version).join(', then ')
  steps.push(
    step('binaries.crictl', `crictl ${crictl.version}${older.length > 0 ? ` (${olderNames} while it is not published)` : ''}`, after, [
      {
        kind: 'task',
        title: 'download and verify crictl',
        shows: [
          ...verify(arts.crictl),
          ...(older.length > 0 ? [`if ${crictl.version} is not published yet: ${olderNames}, the first that is`] : []),
          `extract; $ sudo ${displayArgv(installArgv('<extracted>/crictl', bin('crictl'), EXEC))}`
        ],
        run: async (ctx) => {
          let dir: string | undefined
          for (const [i, r] of [crictl, ...older].entries()) {
            try {
              dir = await cachedTarball(r.artifact, { tool: 'crictl', version: r.version, arch: facts.arch }, ctx.log, cache)
              if (i > 0) ctx.log(`crictl ${r.version}: ${crictl.version}, the release for Kubernetes ${version}, is not published yet`)
              break
            } catch (err) {
              // a minor newer than cri-tools' releases: the next older crictl, said in the log
              if (i === older.length || !isNotPublished(err)) throw err
              ctx.log(`crictl ${r.version} is not published at ${r.artifact.url}; trying ${older[i].version}`)
            }
          }
          await ctx.host.installFile(join(dir!, 'crictl'), bin('crictl'), EXEC)
        }
      },
      { kind: 'write', path: paths.crictlConfig, render: () => `runtime-endpoint: ${criSocket}\nimage-endpoint: ${criSocket}\ntimeout: 10\n` }
    ])
  )
  steps.push(
    step('binaries.cni-plugins', `CNI plugins ${CNI_PLUGINS_VERSION}`, after, [
      {
        kind: 'task',
        title: 'download and verify the CNI plugins',
        shows: [
          ...verify(arts['cni-plugins']),
          `$ sudo ${displayArgv(mkdirArgv(paths.cniBinDir))}`,
          `extract; for each plugin (not README.md, LICENSE): $ sudo ${displayArgv(installArgv('<extracted>/PLUGIN', join(paths.cniBinDir, 'PLUGIN'), EXEC))}`
        ],
        run: async (ctx) => {
          const dir = await cachedTarball(arts['cni-plugins'], { tool: 'cni-plugins', version: CNI_PLUGINS_VERSION, arch: facts.arch }, ctx.log, cache)
          await ctx.host.ensureDir(paths.cniBinDir)
          const plugins = await pluginFiles(dir)
          await Promise.all(plugins.map((n) => ctx.host.installFile(join(dir, n), join(paths.cniBinDir, n), EXEC)))
          ctx.log(`${plugins.length} plugins in ${paths.cniBinDir}`)
        }
      }
    ])
  )
  steps.push(
    step('binaries.kubelet-unit', 'kubelet systemd unit and kubeadm drop-in', ['binaries.kubelet'], [
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service'), render: () => kubeletUnit(bin('kubelet')) },
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service.d', '10-kubeadm.conf'), render: () => kubeadmDropIn(bin('kubelet')) },
      { kind: 'service', action: 'daemon-reload' },
      { kind: 'service', action: 'enable', unit: 'kubelet' }
    ])
  )
  return steps
}
