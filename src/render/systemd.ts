// systemd unit files: the kubelet unit and kubeadm's drop-in, as the templates in
// kubernetes/release (cmd/krel/templates/latest), with the binary path the action installs to.

/** Sections in order; a key given an array is written once per value (ExecStart= resets). */
export type Unit = Array<[section: string, entries: Array<[key: string, value: string]>]>

export function renderUnit(unit: Unit): string {
  return (
    unit
      .map(([section, entries]) => [`[${section}]`, ...entries.map(([k, v]) => `${k}=${v}`)].join('\n'))
      .join('\n\n') + '\n'
  )
}

export function kubeletUnit(kubeletPath: string): string {
  return renderUnit([
    [
      'Unit',
      [
        ['Description', 'kubelet: The Kubernetes Node Agent'],
        ['Documentation', 'https://kubernetes.io/docs/'],
        ['Wants', 'network-online.target'],
        ['After', 'network-online.target']
      ]
    ],
    [
      'Service',
      [
        ['ExecStart', kubeletPath],
        ['Restart', 'always'],
        ['StartLimitInterval', '0'],
        ['RestartSec', '10']
      ]
    ],
    ['Install', [['WantedBy', 'multi-user.target']]]
  ])
}

export function kubeadmDropIn(kubeletPath: string): string {
  return renderUnit([
    [
      'Service',
      [
        ['Environment', '"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"'],
        ['Environment', '"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"'],
        // written by kubeadm init at run time
        ['EnvironmentFile', '-/var/lib/kubelet/kubeadm-flags.env'],
        ['EnvironmentFile', '-/etc/default/kubelet'],
        ['ExecStart', ''],
        ['ExecStart', `${kubeletPath} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS`]
      ]
    ]
  ])
}
