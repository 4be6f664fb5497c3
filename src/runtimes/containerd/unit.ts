// The systemd unit of the action's own containerd: containerd's upstream containerd.service
// (containerd/containerd, containerd.service), with its own binary, config and name, so
// that it runs beside the host's containerd and Docker without touching them.
import { renderUnit } from '../../render/systemd.js'

export const PRIVATE_UNIT = 'kubeadm-single-node-containerd'

export function privateContainerdUnit(binDir: string, config: string): string {
  return renderUnit([
    [
      'Unit',
      [
        ['Description', 'containerd for the kubeadm-single-node cluster'],
        ['Documentation', 'https://containerd.io'],
        ['After', 'network.target dbus.service']
      ]
    ],
    [
      'Service',
      [
        // the shims it starts are found on PATH: its own first, then the host's runc
        ['Environment', `PATH=${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`],
        ['ExecStartPre', '-/sbin/modprobe overlay'],
        ['ExecStart', `${binDir}/containerd --config ${config}`],
        ['Type', 'notify'],
        ['Delegate', 'yes'],
        ['KillMode', 'process'],
        ['Restart', 'always'],
        ['RestartSec', '5'],
        ['LimitNPROC', 'infinity'],
        ['LimitCORE', 'infinity'],
        ['TasksMax', 'infinity'],
        ['OOMScoreAdjust', '-999']
      ]
    ],
    ['Install', [['WantedBy', 'multi-user.target']]]
  ])
}
