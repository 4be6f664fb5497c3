// ready: one deadline, started when the waiting starts, for the node and the system pods;
// the smoke test shares it.
import { step, type Step, type StepContext } from '../engine/step.js'
import { kubectl, lastEvents, nodeFacts, unreadyPods } from '../kube/kubectl.js'
import { waitUntil } from '../kube/wait.js'
import type { PlanContext } from './context.js'

/** The run's one readiness deadline, set by whichever wait starts first. */
export function readinessDeadline(ctx: StepContext, timeoutSeconds: number): number {
  ctx.learned.deadline ??= Date.now() + timeoutSeconds * 1000
  return ctx.learned.deadline
}

export function readySteps(p: PlanContext): Step[] {
  const { config, bin, files, cni } = p
  const { nodeReady, namespaces } = cni.readiness
  const needs = cni.networkSteps(p).map((s) => s.id)
  return [
    step('ready.cluster', nodeReady ? `node Ready, pods in ${namespaces.join(', ')} ready` : 'control plane pods ready (no CNI: the node stays NotReady)', ['init.kubeconfig', ...needs], [
      {
        kind: 'task',
        title: `wait (deadline: ${config.timeoutSeconds}s from here)`,
        shows: [`poll kubectl get nodes,pods -A -o json until ${nodeReady ? `the node is Ready and every pod in ${namespaces.join(' and ')} is Ready` : 'the control-plane pods are Ready'}`],
        run: async (ctx) => {
          const deadline = readinessDeadline(ctx, config.timeoutSeconds)
          const k = kubectl(ctx.host.run, bin('kubectl'), files.kubeconfig)
          const explain = async (): Promise<string> => {
            const pods = (await k.json(['get', 'pods', '-A'])).items
            const events = (await k.json(['get', 'events', '-A'])).items
            return ['Pods not ready:', ...unreadyPods(pods).map((l) => `  ${l}`), 'Last events:', ...lastEvents(events, 10).map((l) => `  ${l}`)].join('\n')
          }
          const node = await waitUntil(
            nodeReady ? 'the node to become Ready' : 'the node to register',
            deadline,
            async (observe) => {
              const items = (await k.json(['get', 'nodes'])).items
              if (items.length === 0) {
                observe('no node registered yet')
                return undefined
              }
              const n = nodeFacts(items[0])
              observe(`node ${n.name}: ${n.ready ? 'Ready' : `NotReady (${n.why})`}`)
              return !nodeReady || n.ready ? n : undefined
            },
            { explain }
          )
          ctx.learned.nodeName = node.name
          ctx.learned.nodeIp = node.ip
          ctx.log(`node ${node.name} (${node.ip}) registered${node.ready ? ' and Ready' : ''}`)
          await waitUntil(
            `pods in ${namespaces.join(', ')} to be ready`,
            deadline,
            async (observe) => {
              // without a CNI only the host-network control plane can run
              const pods = (await k.json(['get', 'pods', '-A'])).items.filter((pod: any) => nodeReady || pod.metadata?.labels?.tier === 'control-plane')
              const waiting = unreadyPods(pods, namespaces)
              observe(waiting.length ? waiting.join('; ') : 'no pods yet')
              const any = pods.some((pod: any) => namespaces.includes(pod.metadata?.namespace))
              return any && waiting.length === 0 ? true : undefined
            },
            { explain }
          )
        }
      }
    ])
  ]
}
