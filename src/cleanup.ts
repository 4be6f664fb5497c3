// Undoing what the main step did, for self-hosted runners (or cleanup: true): kubeadm
// reset, then the files, units and binaries the action wrote, newest first. Every command
// may fail on a half-done host; each failure is reported and the rest still runs.
import { dirname, join } from 'node:path'
import type { Run } from './host/exec.js'
import type { SavedState } from './saved-state.js'

export function cleanupCommands(s: SavedState): string[][] {
  const p = s.paths
  const bin = (n: string): string => join(p.binDir, n)
  const cmds: string[][] = []
  if (s.completed.includes('binaries.kubeadm')) {
    cmds.push([bin('kubeadm'), 'reset', '--force', '--cri-socket', `unix://${p.containerdSocket}`])
  }
  cmds.push(['rm', '-rf', '/etc/cni/net.d', p.stateDir, s.kubeconfig])
  if (s.containerdConfigExisted) {
    cmds.push(['mv', '-f', `${p.containerdConfig}.kubeadm-single-node.bak`, p.containerdConfig])
  } else {
    cmds.push(['rm', '-f', p.containerdConfig])
  }
  for (const registry of s.mirrors) cmds.push(['rm', '-rf', dirname(join(p.certsDir, registry, 'hosts.toml'))])
  cmds.push(['systemctl', 'restart', 'containerd'])
  cmds.push(['systemctl', 'disable', '--now', 'kubelet'])
  cmds.push(['rm', '-rf', join(p.systemdDir, 'kubelet.service'), join(p.systemdDir, 'kubelet.service.d')])
  cmds.push(['systemctl', 'daemon-reload'])
  cmds.push(['rm', '-f', bin('kubeadm'), bin('kubelet'), bin('kubectl'), bin('crictl'), p.crictlConfig, p.modulesLoad, p.sysctlConf])
  if (s.swapWasOn) cmds.push(['swapon', '-a'])
  return cmds
}

export async function cleanup(run: Run, s: SavedState, warn: (m: string) => void, info: (m: string) => void): Promise<void> {
  for (const argv of cleanupCommands(s)) {
    const r = await run(argv, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (r.exitCode === 0) info(`$ ${argv.join(' ')}`)
    else warn(`cleanup: \`${argv.join(' ')}\` exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`)
  }
}
