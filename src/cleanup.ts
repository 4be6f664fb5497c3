// Undoing what the main step did, for self-hosted runners (or cleanup: true): kubeadm
// reset, then what each step that began had changed, newest first. A step that failed
// half-way may have changed the host too, so undo follows the steps that started. Every
// command may fail on a half-done host; each failure is reported and the rest still runs.
// Left in place on purpose: Docker where the action installed it, the CNI plugins in
// /opt/cni/bin (a host may have had them), and runtime sysctl values.
import { dirname, join } from 'node:path'
import type { Run } from './host/exec.js'
import { backupOf } from './paths.js'
import type { SavedState } from './saved-state.js'

export function cleanupCommands(s: SavedState): string[][] {
  const p = s.paths
  const did = (id: string): boolean => s.started.includes(id)
  const bin = (n: string): string => join(p.binDir, n)
  const cmds: string[][] = []
  if (did('init.kubeadm')) cmds.push([bin('kubeadm'), 'reset', '--force', '--cri-socket', `unix://${p.containerdSocket}`])
  if (did('network.cni')) {
    // only flannel's own: other CNI configs on the host are not ours
    cmds.push(['rm', '-rf', join(p.cniConfDir, '10-flannel.conflist'), '/run/flannel'])
    cmds.push(['ip', 'link', 'delete', 'cni0'], ['ip', 'link', 'delete', 'flannel.1'])
  }
  if (did('init.kubeconfig')) cmds.push(['rm', '-f', s.kubeconfig])
  cmds.push(['rm', '-rf', p.stateDir])
  const restore = (path: string, existed: boolean): string[] => (existed ? ['mv', '-f', backupOf(path), path] : ['rm', '-f', path])
  if (did('runtime.docker-mirrors')) cmds.push(restore(p.dockerDaemonJson, s.daemonJsonExisted), ['systemctl', 'restart', 'docker'])
  if (did('runtime.containerd')) {
    cmds.push(restore(p.containerdConfig, s.containerdConfigExisted))
    for (const registry of s.mirrors) cmds.push(['rm', '-rf', dirname(join(p.certsDir, registry, 'hosts.toml'))])
    cmds.push(['systemctl', 'restart', 'containerd'])
  }
  if (did('binaries.kubelet-unit')) {
    cmds.push(['systemctl', 'disable', '--now', 'kubelet'])
    cmds.push(['rm', '-rf', join(p.systemdDir, 'kubelet.service'), join(p.systemdDir, 'kubelet.service.d')])
    cmds.push(['systemctl', 'daemon-reload'])
  }
  const binaries = ['kubeadm', 'kubelet', 'kubectl', 'crictl'].filter((b) => did(`binaries.${b}`)).map(bin)
  if (did('binaries.crictl')) binaries.push(p.crictlConfig)
  if (binaries.length > 0) cmds.push(['rm', '-f', ...binaries])
  if (did('host.kernel')) cmds.push(['rm', '-f', p.modulesLoad, p.sysctlConf])
  if (did('host.swap')) cmds.push(['swapon', '-a'])
  return cmds
}

export async function cleanup(run: Run, s: SavedState, warn: (m: string) => void, info: (m: string) => void): Promise<void> {
  for (const argv of cleanupCommands(s)) {
    const r = await run(argv, { privileged: true, allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }))
    if (r.exitCode === 0) info(`$ ${argv.join(' ')}`)
    else warn(`cleanup: \`${argv.join(' ')}\` exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`)
  }
}
