// kubeadm init, undone by kubeadm reset. The record holds what the reset needs, typed: the
// kubeadm the action installed, the configuration file init read, the CRI socket and the
// certificates directory from that configuration. The reset is built from these alone.
//
// Why every flag: kubeadm reset reads the cluster's kubeadm-config ConfigMap through
// --kubeconfig (default /etc/kubernetes/admin.conf), and takes the CRI socket, the
// certificates directory (which it empties) and the etcd data directory from it where no
// flag says otherwise (kubernetes/kubernetes cmd/kubeadm/app/cmd/reset.go, newResetData:
// FetchInitConfigurationFromCluster, then `--cri-socket` over resetDetectCRISocket and
// `--cert-dir` over initCfg.ClusterConfiguration.CertificatesDir; phases/reset/
// removeetcdmember.go, getEtcdDataDir, falls back to the etcd static pod's manifest on
// disk when no configuration was fetched). A ConfigMap that workloads in the cluster could
// edit must not choose what root empties: --kubeconfig /dev/null gives kubeadm no client,
// so it fetches nothing, and the two flags give it the action's own values.
import type { RunOptions, RunResult } from '../exec.js'
import type { Fields } from './fields.js'
import type { ChangeKind, DoContext } from './kind.js'

export interface KubeadmInitChange {
  kind: 'kubeadm-init'
  /** the kubeadm binary, under the action's bin directory */
  kubeadm: string
  /** the configuration kubeadm init read */
  config: string
  /** unix:///… as the configuration's nodeRegistration.criSocket */
  criSocket: string
  /** the configuration's ClusterConfiguration.certificatesDir (kubeadm's default where unset) */
  certificatesDir: string
}

export type KubeadmInit = Omit<KubeadmInitChange, 'kind'>

export function kubeadmInitArgv(kubeadm: string, config: string): string[] {
  return [kubeadm, 'init', '--config', config, '--skip-token-print']
}

export function kubeadmResetArgv(r: KubeadmInit): string[] {
  return [r.kubeadm, 'reset', '--force', '--cri-socket', r.criSocket, '--cert-dir', r.certificatesDir, '--kubeconfig', '/dev/null']
}

export async function kubeadmInit(ctx: DoContext, r: KubeadmInit, opts: RunOptions = {}): Promise<RunResult> {
  await ctx.record({ kind: 'kubeadm-init', ...r } satisfies KubeadmInitChange)
  return ctx.run(kubeadmInitArgv(r.kubeadm, r.config), { ...ctx.root, ...opts })
}

export const kubeadmInitKind: ChangeKind<KubeadmInitChange> = {
  describe: () => 'kubeadm init (undone by kubeadm reset)',
  undo: async (c, u) => ((await u.exec(kubeadmResetArgv(c))) ? 'undone' : 'failed'),
  parse: (f: Fields) => {
    const c: KubeadmInitChange = {
      kind: 'kubeadm-init',
      kubeadm: f.path('kubeadm'),
      config: f.path('config'),
      criSocket: f.string('criSocket', /^unix:\/\/\/(?!.*\/\.\.?(\/|$))[A-Za-z0-9_./-]{1,200}$/, 'a unix:/// socket path'),
      certificatesDir: f.path('certificatesDir')
    }
    if (!c.kubeadm.endsWith('/kubeadm')) f.refuse('kubeadm', `names ${JSON.stringify(c.kubeadm)}, which is not a kubeadm binary`)
    return f.done(c)
  }
}
