// binaries: every download verified against its published checksum, all at once, each
// taken from the runner's tool cache when it is there.
import { join } from 'node:path'
import { CNI_PLUGINS_VERSION, crictlVersion } from '../defaults.js'
import { cachedBinary, cachedTarball, type Artifact, type ToolKey } from '../download.js'
import type { Step, StepContext } from '../plan.js'
import { kubeadmDropIn, kubeletUnit } from '../render/systemd.js'
import { minorOf } from '../versions.js'
import type { PlanContext } from './context.js'

async function installBinary(ctx: StepContext, artifact: Artifact, key: ToolKey, dest: string): Promise<void> {
  const file = await cachedBinary(artifact, key, ctx.log)
  await ctx.host.run(['install', '-D', '-m', '0755', file, dest], { privileged: true })
}

export function binarySteps(p: PlanContext): Step[] {
  const { facts, version, paths, bin, arts, criSocket } = p
  const steps: Step[] = []
  // binaries: every download verified against its published checksum, all at once
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    steps.push({
      id: `binaries.${name}`,
      phase: 'binaries',
      title: `${name} ${version}`,
      needs: [],
      ops: [
        {
          kind: 'task',
          title: `download and verify ${name}`,
          shows: [`GET ${arts[name].url} (unless the tool cache has it)`, `verify SHA-256 against ${arts[name].checksumUrl}`, `$ sudo install -m 0755 <download> ${bin(name)}`],
          run: (ctx) => installBinary(ctx, arts[name], { tool: name, version, arch: facts.arch }, bin(name))
        }
      ]
    })
  }
  steps.push({
    id: 'binaries.crictl',
    phase: 'binaries',
    title: `crictl ${crictlVersion(minorOf(version))}`,
    needs: [],
    ops: [
      {
        kind: 'task',
        title: 'download and verify crictl',
        shows: [`GET ${arts.crictl.url} (unless the tool cache has it)`, `verify SHA-256 against ${arts.crictl.checksumUrl}`, `extract; $ sudo install -m 0755 crictl ${bin('crictl')}`],
        run: async (ctx) => {
          const dir = await cachedTarball(arts.crictl, { tool: 'crictl', version: crictlVersion(minorOf(version)), arch: facts.arch }, ctx.log)
          await ctx.host.run(['install', '-D', '-m', '0755', join(dir, 'crictl'), bin('crictl')], { privileged: true })
        }
      },
      { kind: 'write', path: paths.crictlConfig, render: () => `runtime-endpoint: ${criSocket}\nimage-endpoint: ${criSocket}\ntimeout: 10\n` }
    ]
  })
  steps.push({
    id: 'binaries.cni',
    phase: 'binaries',
    title: `CNI plugins ${CNI_PLUGINS_VERSION}`,
    needs: [],
    ops: [
      {
        kind: 'task',
        title: 'download and verify the CNI plugins',
        shows: [`GET ${arts.cni.url} (unless the tool cache has it)`, `verify SHA-256 against ${arts.cni.checksumUrl}`, `extract; $ sudo cp -r <plugins>/. ${paths.cniBinDir}`],
        run: async (ctx) => {
          const dir = await cachedTarball(arts.cni, { tool: 'cni-plugins', version: CNI_PLUGINS_VERSION, arch: facts.arch }, ctx.log)
          await ctx.host.run(['install', '-d', '-m', '0755', paths.cniBinDir], { privileged: true })
          await ctx.host.run(['cp', '-r', `${dir}/.`, paths.cniBinDir], { privileged: true })
        }
      }
    ]
  })
  steps.push({
    id: 'binaries.kubelet-unit',
    phase: 'binaries',
    title: 'kubelet systemd unit and kubeadm drop-in',
    needs: ['binaries.kubelet'],
    ops: [
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service'), render: () => kubeletUnit(bin('kubelet')) },
      { kind: 'write', path: join(paths.systemdDir, 'kubelet.service.d', '10-kubeadm.conf'), render: () => kubeadmDropIn(bin('kubelet')) },
      { kind: 'service', action: 'reload' },
      { kind: 'service', action: 'enable', unit: 'kubelet' }
    ]
  })
  return steps
}
