// smoke: nginx behind a NodePort Service, deployed as soon as the API answers (overlapping
// the CNI rollout), then asked over HTTP on the node's InternalIP until it answers 200.
import { SMOKE } from '../defaults.js'
import { kubectl, unreadyPods } from '../cluster/kube.js'
import { waitUntil } from '../cluster/wait.js'
import type { Step } from '../plan.js'
import { renderSmokeManifest } from '../render/smoke.js'
import type { PlanContext } from './context.js'

export function smokeSteps(p: PlanContext): Step[] {
  const { config, bin, files, kubeEnv, smokeTest } = p
  const steps: Step[] = []
  if (!smokeTest) return steps
  steps.push({
    id: 'smoke.deploy',
    phase: 'smoke',
    title: `deploy ${config.smokeTestImage} behind a NodePort Service`,
    needs: ['init.kubeconfig'],
    ops: [
      { kind: 'write', path: files.smokeManifest, render: () => renderSmokeManifest(SMOKE.name, SMOKE.namespace, config.smokeTestImage) },
      { kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', files.smokeManifest], env: kubeEnv }
    ]
  })
  steps.push({
    id: 'smoke.check',
    phase: 'smoke',
    title: 'nginx answers 200 on the node IP and NodePort',
    needs: ['smoke.deploy', 'ready.cluster'],
    ops: [
      {
        kind: 'task',
        title: 'HTTP GET http://<node InternalIP>:<nodePort>/ until 200',
        shows: [`$ kubectl get service ${SMOKE.name} -o json   (nodePort)`, 'GET http://<node InternalIP>:<nodePort>/ until it answers 200, within the deadline'],
        run: async (ctx) => {
          const k = kubectl(ctx.host.run, bin('kubectl'), files.kubeconfig)
          const svc = await k.json(['get', 'service', SMOKE.name, '-n', SMOKE.namespace])
          const port = Number(svc.spec?.ports?.[0]?.nodePort)
          if (!Number.isInteger(port) || port <= 0) throw new Error(`service ${SMOKE.name} has no nodePort`)
          const url = `http://${ctx.state.nodeIp}:${port}/`
          await waitUntil(
            `nginx to answer 200 at ${url}`,
            ctx.state.deadline ?? Date.now(),
            async (observe) => {
              const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
              observe(`HTTP ${res.status}`)
              return res.status === 200 ? true : undefined
            },
            {
              explain: async () => {
                const pods = (await k.json(['get', 'pods', '-n', SMOKE.namespace, '-l', `app=${SMOKE.name}`])).items
                return `smoke pods: ${unreadyPods(pods).join('; ') || 'Ready'}`
              }
            }
          )
          ctx.state.nodePort = port
          ctx.state.nginxUrl = url
          ctx.log(`${url} answered 200`)
        }
      }
    ]
  })
  return steps
}
