// host: the kernel settings and packages kubeadm's preflight checks.
import { step, type Step } from '../engine/step.js'
import { modprobeArgv, sysctlApplyArgv } from '../host/host.js'
import { aptInstallArgv } from '../host/apt.js'
import { KERNEL_MODULES, SYSCTLS, renderModulesLoad, renderSysctlConf } from '../render/host.js'
import type { PlanContext } from './context.js'

export function hostSteps(p: PlanContext): Step[] {
  const { facts, paths } = p
  const steps: Step[] = []
  if (facts.swapOn) {
    steps.push(
      step('host.swap', 'turn swap off (the kubelet refuses to run with swap on)', [], [
        { kind: 'task', title: 'swapoff', shows: [`$ sudo swapoff DEVICE...   (each device active in ${paths.procSwaps}, recorded first; cleanup turns them back on)`], run: async (ctx) => ctx.log(`swap off: ${(await ctx.host.swapOff()).join(', ')}`) }
      ])
    )
  }
  steps.push(
    step('host.kernel', 'load overlay and br_netfilter, enable forwarding and bridge netfilter', [], [
      { kind: 'write', path: paths.modulesLoad, render: renderModulesLoad },
      { kind: 'task', title: 'load the kernel modules', shows: [`$ sudo ${modprobeArgv(KERNEL_MODULES).join(' ')}`], run: (ctx) => ctx.host.loadModules(KERNEL_MODULES) },
      { kind: 'write', path: paths.sysctlConf, render: renderSysctlConf },
      {
        kind: 'task',
        title: 'apply the sysctls',
        shows: [`$ sudo ${sysctlApplyArgv(paths.sysctlConf).join(' ')}   (the live values are recorded first; cleanup restores them)`],
        run: (ctx) => ctx.host.applySysctls(paths.sysctlConf, Object.keys(SYSCTLS))
      }
    ])
  )
  if (facts.missingPackages.length > 0) {
    const pkgs = facts.missingPackages
    steps.push(
      step('host.packages', `install ${pkgs.join(', ')}`, [], [
        { kind: 'task', title: `apt-get install ${pkgs.join(' ')}`, shows: [`$ sudo ${aptInstallArgv(pkgs).join(' ')}   (apt-get update first if that fails)`], run: (ctx) => ctx.host.installPackages(pkgs, ctx.log) }
      ])
    )
  }
  return steps
}
