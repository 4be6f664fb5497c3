// init: kubeadm init, then the runner user's kubeconfig.
import { dirname, join } from 'node:path'
import { step, type Step, type StepId } from '../engine/step.js'
import { displayArgv } from '../host/exec.js'
import { kubeadmInitArgv, kubeadmResetArgv, type KubeadmInit } from '../host/changes/kubeadm-init.js'
import { installArgv, mkdirArgv } from '../host/host.js'
import { mergedDocuments } from '../render/kubeadm.js'
import { kubeadmOptions } from './config.js'
import type { PlanContext } from './context.js'
import { packagesToInstall } from './host.js'

export { kubeadmInitArgv, kubeadmResetArgv }


/** `hostStepIds`: the host steps kubeadm init waits for. */
export function initSteps(p: PlanContext, hostStepIds: StepId[]): Step[] {
  const { facts, version, paths, bin, files, criSocket, cni } = p
  const left = cni.leftovers(paths)
  const init = kubeadmInitArgv(bin('kubeadm'), files.kubeadmConfig)
  // what cleanup's kubeadm reset is built from: the configuration as rendered, never the cluster's ConfigMap
  const certificatesDir = mergedDocuments(kubeadmOptions(p)).get('ClusterConfiguration')?.certificatesDir
  const recorded: KubeadmInit = {
    kubeadm: bin('kubeadm'),
    config: files.kubeadmConfig,
    criSocket,
    // unset: kubeadm's default, /etc/kubernetes/pki (DefaultCertificatesDir in cmd/kubeadm/app/apis/kubeadm/v1beta4/defaults.go)
    certificatesDir: typeof certificatesDir === 'string' ? certificatesDir : join(paths.kubernetesDir, 'pki')
  }
  const reset = kubeadmResetArgv(recorded)
  const owner = { uid: facts.user.uid, gid: facts.user.gid }
  const kubeDir = dirname(files.kubeconfig)
  // apt is off the critical path: init waits for host.packages only where that installs
  // what kubeadm's preflight stops without (conntrack below 1.32)
  const hostNeeds = hostStepIds.filter((id) => id !== 'host.packages' || packagesToInstall(version, facts).length > 0)
  return [
    step('init.kubeadm', `kubeadm init ${version}`, [...hostNeeds, 'binaries.kubelet-unit', 'binaries.cni-plugins', 'config.kubeadm', 'runtime.ready', 'images.preload'], [
      {
        kind: 'task',
        title: 'kubeadm init',
        shows: [
          `$ sudo ${displayArgv(init)}`,
          `(cleanup: $ sudo ${displayArgv(reset)}; then removes, where they did not exist, ${[paths.kubernetesDir, paths.kubeletDir, paths.etcdDir, ...left.dirs, ...left.files, ...left.interfaces].join(', ')}, and puts back a CNI file it replaced${left.mounts.length ? `; first unmounts, where nothing was mounted, ${left.mounts.join(', ')}` : ''})`
        ],
        run: async (ctx) => {
          // recorded before init, so undone after kubeadm reset has stopped the pods using them
          for (const dir of [paths.kubernetesDir, paths.kubeletDir, paths.etcdDir, ...left.dirs]) await ctx.host.willCreate(dir, 'dir')
          for (const f of left.files) await ctx.host.willCreate(f, 'file')
          for (const i of left.interfaces) await ctx.host.willCreateInterface(i)
          // after the directories they are in: undone (unmounted) before those are removed
          for (const m of left.mounts) await ctx.host.willMount(m)
          const res = await ctx.host.kubeadmInit(recorded)
          ctx.log((res.stdout + res.stderr).trim().split('\n').slice(-15).join('\n'))
        }
      }
    ]),
    // every later step talks to the cluster through kubectl
    step('init.kubeconfig', `kubeconfig for ${facts.user.name} (mode 0600)`, ['init.kubeadm', 'binaries.kubectl'], [
      {
        kind: 'task',
        title: `copy ${paths.adminConf} to ${files.kubeconfig}`,
        shows: [`$ sudo ${displayArgv(mkdirArgv(kubeDir, { mode: 0o700, owner }))}`, `$ sudo ${displayArgv(installArgv(paths.adminConf, files.kubeconfig, { mode: 0o600, owner }))}`],
        run: async (ctx) => {
          await ctx.host.ensureDir(kubeDir, { mode: 0o700, owner })
          await ctx.host.installFile(paths.adminConf, files.kubeconfig, { mode: 0o600, owner })
          ctx.learned.kubeconfig = files.kubeconfig
        }
      }
    ])
  ]
}
