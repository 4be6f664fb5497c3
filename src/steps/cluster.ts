// init and after: kubeadm's config, kubeadm init, the runner user's kubeconfig, the CNI,
// and one deadline for the node and the system pods to be ready.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { FLANNEL } from '../defaults.js'
import { kubectl, lastEvents, nodeFacts, unreadyPods } from '../cluster/kube.js'
import { waitUntil } from '../cluster/wait.js'
import type { Step } from '../plan.js'
import { renderKubeadmConfig } from '../render/kubeadm.js'
import type { PlanContext } from './context.js'
/** `hostStepIds`: the host steps kubeadm init waits for. */
export function clusterSteps(p: PlanContext, hostStepIds: string[]): Step[] {
  const { config, facts, version, paths, bin, files, criSocket, kubeEnv } = p
  const steps: Step[] = []
  // init config first: kubeadm itself names the images from it
  steps.push({
    id: 'init.config',
    phase: 'init',
    title: 'kubeadm configuration',
    needs: [],
    ops: [
      {
        kind: 'write',
        path: files.kubeadmConfig,
        mode: 0o600,
        render: () =>
          renderKubeadmConfig({
            kubernetesVersion: version,
            criSocket,
            podSubnet: config.podNetworkCidr,
            serviceSubnet: config.serviceCidr,
            imageRepository: config.imageRepository,
            untaint: config.untaint
          })
      }
    ]
  })

  // init
  steps.push({
    id: 'init.kubeadm',
    phase: 'init',
    title: `kubeadm init ${version}`,
    needs: [...hostStepIds, 'runtime.cri', 'images.preload', 'binaries.kubelet-unit', 'binaries.cni', 'init.config'],
    ops: [{ kind: 'exec', argv: [bin('kubeadm'), 'init', '--config', files.kubeadmConfig, '--skip-token-print'], privileged: true }]
  })
  steps.push({
    id: 'init.kubeconfig',
    phase: 'init',
    title: `kubeconfig for ${facts.user.name} (mode 0600)`,
    // every later step talks to the cluster through kubectl
    needs: ['init.kubeadm', 'binaries.kubectl'],
    ops: [
      {
        kind: 'task',
        title: `copy ${paths.adminConf} to ${files.kubeconfig}`,
        shows: [`$ mkdir -p ${join(facts.user.home, '.kube')}`, `$ sudo install -m 0600 -o ${facts.user.uid} -g ${facts.user.gid} ${paths.adminConf} ${files.kubeconfig}`],
        run: async (ctx) => {
          await mkdir(join(facts.user.home, '.kube'), { recursive: true, mode: 0o700 })
          await ctx.host.run(['install', '-m', '0600', '-o', String(facts.user.uid), '-g', String(facts.user.gid), paths.adminConf, files.kubeconfig], { privileged: true })
          ctx.state.kubeconfig = files.kubeconfig
          ctx.state.deadline = Date.now() + config.timeoutSeconds * 1000
        }
      }
    ]
  })


  // network
  const readyNeeds = ['init.kubeconfig']
  if (config.cni === 'flannel') {
    readyNeeds.push('network.cni')
    steps.push({
      id: 'network.cni',
      phase: 'network',
      title: 'apply flannel',
      needs: ['init.kubeconfig', 'images.cni'],
      ops: [{ kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', files.cniManifest], env: kubeEnv }]
    })
  }
  const namespaces = config.cni === 'flannel' ? ['kube-system', FLANNEL.namespace] : ['kube-system']
  steps.push({
    id: 'ready.cluster',
    phase: 'ready',
    title: config.cni === 'flannel' ? 'node Ready, kube-system and flannel pods ready' : 'control plane pods ready (no CNI: the node stays NotReady)',
    needs: readyNeeds,
    ops: [
      {
        kind: 'task',
        title: `wait (deadline: ${config.timeoutSeconds}s after init)`,
        shows: [`poll kubectl get nodes,pods -A -o json until ${config.cni === 'flannel' ? 'the node is Ready and every pod in kube-system and kube-flannel is Ready' : 'the control-plane pods are Ready'}`],
        run: async (ctx) => {
          const k = kubectl(ctx.host.run, bin('kubectl'), files.kubeconfig)
          const explain = async (): Promise<string> => {
            const pods = (await k.json(['get', 'pods', '-A'])).items
            const events = (await k.json(['get', 'events', '-A'])).items
            return [`Pods not ready:`, ...unreadyPods(pods).map((l) => `  ${l}`), `Last events:`, ...lastEvents(events, 10).map((l) => `  ${l}`)].join('\n')
          }
          const node = await waitUntil(
            config.cni === 'flannel' ? 'the node to become Ready' : 'the node to register',
            ctx.state.deadline ?? Date.now(),
            async (observe) => {
              const items = (await k.json(['get', 'nodes'])).items
              if (items.length === 0) {
                observe('no node registered yet')
                return undefined
              }
              const n = nodeFacts(items[0])
              observe(`node ${n.name}: ${n.ready ? 'Ready' : `NotReady (${n.why})`}`)
              return config.cni === 'none' || n.ready ? n : undefined
            },
            { explain }
          )
          ctx.state.nodeName = node.name
          ctx.state.nodeIp = node.ip
          ctx.log(`node ${node.name} (${node.ip}) registered${node.ready ? ' and Ready' : ''}`)
          await waitUntil(
            `pods in ${namespaces.join(', ')} to be ready`,
            ctx.state.deadline ?? Date.now(),
            async (observe) => {
              const pods = (await k.json(['get', 'pods', '-A'])).items.filter((p: any) =>
                config.cni === 'none' ? p.metadata?.labels?.tier === 'control-plane' : true
              )
              const waiting = unreadyPods(pods, namespaces)
              observe(waiting.length ? waiting.join('; ') : 'no pods yet')
              const any = pods.some((p: any) => namespaces.includes(p.metadata?.namespace))
              return any && waiting.length === 0 ? true : undefined
            },
            { explain }
          )
        }
      }
    ]
  })
  return steps
}
