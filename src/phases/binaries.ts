// binaries: every download verified against its published checksum, all at once, each
// taken from the runner's tool cache when it is there.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CNI_PLUGINS_VERSION } from '../config/defaults.js'
import { step, type Step } from '../engine/step.js'
import { cachedBinary, cachedTarball, isNotPublished, verifyLine } from '../host/download.js'
import { installArgv, mkdirArgv } from '../host/host.js'
import { displayArgv } from '../host/exec.js'
import { kubeadmDropIn, kubeletUnit } from '../render/systemd.js'
import { crictlReleases } from './artifacts.js'
import type { PlanContext } from './context.js'

const EXEC = { mode: 0o755 }

/** The plugins in the CNI tarball: its executables, not the README.md and LICENSE beside them. */
export async function pluginFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort()
  const isPlugin = await Promise.all(names.map(async (n) => ((await stat(join(dir, n))).mode & 0o111) !== 0 && !/\.(md|txt)$|^LICENSE/i.test(n)))
  return names.filter((_, i) => isPlugin[i])
}

export function binarySteps(p: PlanContext): Step[] {
  const { config, facts, version, paths, bin, arts, criSocket, cache } = p
  // the downloads wait for the cache entry, which may hold them
  const after: Step['needs'] = cache ? ['cache.restore'] : []
  const steps: Step[] = []
  const verify = (a: (typeof arts)[keyof typeof arts]): string[] => [`GET ${a.url} (unless the tool cache${cache ? ' or the cache entry' : ''} has it)`, verifyLine(a)]
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    steps.push(
      step(`binaries.${name}`, `${name} ${version}`, after, [
        {
          kind: 'task',
          title: `download and verify ${name}`,
          shows: [...verify(arts[name]), `$ sudo ${displayArgv(installArgv('<download>', bin(name), EXEC))}`],
          run: async (ctx) => ctx.host.installFile(await cachedBinary(arts[name], { tool: name, version, arch: facts.arch }, ctx.log, cache), bin(name), EXEC)
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
