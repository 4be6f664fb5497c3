// host: the kernel settings and packages kubeadm's preflight checks.
import { aptInstall } from '../host/apt.js'
import type { Step } from '../plan.js'
import { renderModulesLoad, renderSysctlConf } from '../render/host.js'
import type { PlanContext } from './context.js'

export function hostSteps(p: PlanContext): Step[] {
  const { facts, paths } = p
  const steps: Step[] = []
  // host: the kernel and packages kubeadm's preflight checks
  if (facts.swapOn) {
    steps.push({ id: 'host.swap', phase: 'host', title: 'turn swap off (the kubelet refuses to run with swap on)', needs: [], ops: [{ kind: 'exec', argv: ['swapoff', '-a'], privileged: true }] })
  }
  steps.push({
    id: 'host.kernel',
    phase: 'host',
    title: 'load overlay and br_netfilter, enable forwarding and bridge netfilter',
    needs: [],
    ops: [
      { kind: 'write', path: paths.modulesLoad, render: renderModulesLoad },
      { kind: 'exec', argv: ['modprobe', '-a', 'overlay', 'br_netfilter'], privileged: true },
      { kind: 'write', path: paths.sysctlConf, render: renderSysctlConf },
      { kind: 'exec', argv: ['sysctl', '-p', paths.sysctlConf], privileged: true }
    ]
  })
  if (facts.missingPackages.length > 0) {
    const pkgs = facts.missingPackages
    steps.push({
      id: 'host.packages',
      phase: 'host',
      title: `install ${pkgs.join(', ')}`,
      needs: [],
      ops: [{ kind: 'task', title: `apt-get install ${pkgs.join(' ')}`, shows: [`$ sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}   (apt-get update first if that fails)`], run: (ctx) => aptInstall(ctx, pkgs) }]
    })
  }
  return steps
}
