// Kernel settings kubeadm and flannel need, written so they survive a reboot of a
// self-hosted host, and applied at once by the plan.

export const KERNEL_MODULES = ['overlay', 'br_netfilter'] as const

export const SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1'
}

export function renderModulesLoad(): string {
  return `${KERNEL_MODULES.join('\n')}\n`
}

export function renderSysctlConf(): string {
  return Object.entries(SYSCTLS)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')
    .concat('\n')
}
