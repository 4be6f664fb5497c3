// host: the kernel settings and the packages kubeadm's preflight checks.
import { HOST_PACKAGES, hostPackagesFor, type HostPackage } from '../config/kubernetes.js'
import { step, type Step } from '../engine/step.js'
import { modprobeArgv, sysctlApplyArgv } from '../host/host.js'
import { aptInstallShows } from '../host/apt.js'
import type { HostFacts } from '../host/probe.js'
import { subnetProblems } from '../host/subnets.js'
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
  steps.push(packagesStep(p))
  return steps
}

/** What the run installs: each package the version needs that the host lacks. */
export function packagesToInstall(version: string, facts: HostFacts): HostPackage[] {
  return hostPackagesFor(version).filter((h) => facts.missingPackages.includes(h.pkg))
}

/**
 * The packages kubeadm's preflight cannot do without for this version (conntrack below
 * 1.32, see config/kubernetes.ts), where missing. The step is there even with nothing to
 * install, so that the dry run says so; init waits for it only when it installs something.
 */
function packagesStep(p: PlanContext): Step {
  const { facts, version } = p
  const needs = hostPackagesFor(version)
  const install = packagesToInstall(version, facts)
  const missing = (pkg: string): boolean => facts.missingPackages.includes(pkg)
  const why = [
    ...(needs.length === 0
      ? [`kubeadm ${version}'s preflight stops for no missing package, and no step of the run needs one`]
      : needs.map((h) => `${h.pkg}: ${h.why}; ${missing(h.pkg) ? 'not installed here' : 'already installed'}`)),
    ...HOST_PACKAGES.filter((h) => !needs.includes(h) && missing(h.pkg)).map((h) => `${h.pkg}: needed only through 1.${h.through}; not installed here, and left so`),
    'socat, ebtables, ethtool: never installed by this action; kubeadm at most warns without them (kubernetes PRs #127151, #129131), and no step of the run uses them'
  ]
  if (install.length === 0) {
    return step('host.packages', 'no package to install', [], [{ kind: 'task', title: 'nothing to install', shows: why, run: async (ctx) => ctx.log(why.join('\n')) }])
  }
  const pkgs = install.map((h) => h.pkg)
  return step('host.packages', `install ${pkgs.join(', ')}`, [], [
    { kind: 'task', title: `apt-get install ${pkgs.join(' ')}`, shows: [...why, ...aptInstallShows(pkgs), '(left installed by cleanup)'], run: (ctx) => ctx.host.installPackages(pkgs, ctx.log) }
  ])
}

/**
 * Input problems the host reveals, found at plan time with everything else the caller
 * refuses before the host changes: a pod or Service CIDR that overlaps the node's own
 * addresses or its default route's network.
 */
export function hostInputProblems(p: PlanContext): string[] {
  return subnetProblems({ 'pod-network-cidr': p.config.podNetworkCidr, 'service-cidr': p.config.serviceCidr }, p.facts.network)
}
