// cri-dockerd's systemd units: upstream's packaging/systemd/cri-docker.service and
// cri-docker.socket (Mirantis/cri-dockerd, read at tag v0.3.25, the newest 0.3 tag in the
// snapshot read; the action pins the 0.3.26 release), with the binary the action installs and
// the flags a kubeadm node needs. The socket is systemd's (`fd://`): systemd listens on it before
// cri-dockerd starts, so the kubelet and crictl never meet a missing socket.
import { renderUnit } from '../../render/systemd.js'

export const SERVICE_UNIT = 'cri-docker.service'
export const SOCKET_UNIT = 'cri-docker.socket'
/** cri-dockerd's socket (systemd's, passed to it as fd://) and its own state, as host paths (onHost) */
export const CRI_DOCKERD_PATHS = { socket: '/run/cri-dockerd.sock', root: '/var/lib/cri-dockerd' } as const

export interface CriDockerdUnitOptions {
  /** the installed cri-dockerd */
  binary: string
  /**
   * exactly the pause image `kubeadm config images list` names, from the image repository the
   * run uses: cri-dockerd's own default is registry.k8s.io/pause:3.10 since v0.3.17
   * (cmd/cri/options/options.go, defaultPodSandboxImageVersion), which is neither kubeadm's
   * 3.10.1 nor from a mirror
   */
  pauseImage: string
  cniBinDir: string
  cniConfDir: string
}

export function criDockerdServiceUnit(o: CriDockerdUnitOptions): string {
  const exec = [
    o.binary,
    '--container-runtime-endpoint fd://',
    `--pod-infra-container-image ${o.pauseImage}`,
    // cri-dockerd already defaults to cni (cmd/cri/options/options.go at v0.3.25:
    // NetworkPluginName: "cni"); said here so the unit shows what the node relies on
    '--network-plugin=cni',
    `--cni-bin-dir ${o.cniBinDir}`,
    `--cni-conf-dir ${o.cniConfDir}`
  ].join(' ')
  return renderUnit([
    [
      'Unit',
      [
        ['Description', 'CRI Interface for Docker Application Container Engine'],
        ['Documentation', 'https://docs.mirantis.com'],
        ['After', 'network-online.target firewalld.service docker.service'],
        // kubespray's unit (roles/container-engine/cri-dockerd) wants docker.service too
        ['Wants', 'network-online.target docker.service'],
        ['Requires', SOCKET_UNIT]
      ]
    ],
    [
      'Service',
      [
        ['Type', 'notify'],
        ['ExecStart', exec],
        ['ExecReload', '/bin/kill -s HUP $MAINPID'],
        ['TimeoutSec', '0'],
        ['RestartSec', '2'],
        ['Restart', 'always'],
        ['StartLimitBurst', '3'],
        ['StartLimitInterval', '60s'],
        ['LimitNOFILE', 'infinity'],
        ['LimitNPROC', 'infinity'],
        ['LimitCORE', 'infinity'],
        ['TasksMax', 'infinity'],
        ['Delegate', 'yes'],
        ['KillMode', 'process']
      ]
    ],
    ['Install', [['WantedBy', 'multi-user.target']]]
  ])
}

/**
 * Upstream listens on %t/cri-dockerd.sock (packaging/systemd/cri-docker.socket at v0.3.25),
 * which is /run/cri-dockerd.sock for the system manager: the same socket kubeadm knows as
 * cri-dockerd's (CRISocketDocker, unix:///var/run/cri-dockerd.sock, in kubeadm's constants) and
 * cri-dockerd's own default endpoint, written under /run because systemd rewrites and warns
 * about a ListenStream below the legacy /var/run, which is a link to /run.
 */
export function criDockerdSocketUnit(socketPath: string): string {
  return renderUnit([
    [
      'Unit',
      [
        ['Description', 'CRI Docker Socket for the API'],
        ['PartOf', SERVICE_UNIT]
      ]
    ],
    [
      'Socket',
      [
        ['ListenStream', socketPath],
        ['SocketMode', '0660'],
        ['SocketUser', 'root'],
        ['SocketGroup', 'docker'],
        // systemd leaves a stopped socket's file behind by default: cleanup's stop removes it
        ['RemoveOnStop', 'yes']
      ]
    ],
    ['Install', [['WantedBy', 'sockets.target']]]
  ])
}
