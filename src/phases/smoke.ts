// smoke: nginx behind a NodePort Service, deployed as soon as the API answers (overlapping
// the CNI rollout), then asked over HTTP on the node's InternalIP until it answers 200.
import { SMOKE } from '../config/defaults.js'
import { step, type Step } from '../engine/step.js'
import { kubectl, unreadyPods } from '../kube/kubectl.js'
import { waitUntil } from '../kube/wait.js'
import { CONTROL_PLANE_TAINT } from '../render/kubeadm.js'
import { renderSmokeManifest } from '../render/smoke.js'
import type { PlanContext } from './context.js'
import { readinessDeadline } from './ready.js'

export function smokeSteps(p: PlanContext): Step[] {
  const { config, bin, files, kubeEnv, smokeTest } = p
  if (!smokeTest) return []
  // with the taint kept, the proof still runs: nginx tolerates it
  const tolerations = config.untaint ? [] : [{ ...CONTROL_PLANE_TAINT, operator: 'Exists' }]
  return [
    step('smoke.deploy', `deploy ${config.smokeTestImage} behind a NodePort Service`, ['init.kubeconfig'], [
      { kind: 'write', path: files.smokeManifest, render: () => renderSmokeManifest(SMOKE.name, SMOKE.namespace, config.smokeTestImage, tolerations) },
      { kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', files.smokeManifest], env: kubeEnv }
    ]),
    step('smoke.check', 'nginx answers 200 on the node IP and NodePort', ['smoke.deploy', 'ready.cluster'], [
      {
        kind: 'task',
        title: 'HTTP GET http://<node InternalIP>:<nodePort>/ until 200',
        shows: [`$ kubectl get service ${SMOKE.name} -o json   (nodePort)`, 'GET http://<node InternalIP>:<nodePort>/ until it answers 200, within the deadline'],
        run: async (ctx) => {
          const k = kubectl(ctx.host.run, bin('kubectl'), files.kubeconfig)
          const svc = await k.json(['get', 'service', SMOKE.name, '-n', SMOKE.namespace])
          const port = Number(svc.spec?.ports?.[0]?.nodePort)
          if (!Number.isInteger(port) || port <= 0) throw new Error(`service ${SMOKE.name} has no nodePort`)
          const url = `http://${ctx.learned.nodeIp}:${port}/`
          await waitUntil(
            `nginx to answer 200 at ${url}`,
            readinessDeadline(ctx, config.timeoutSeconds),
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
          ctx.learned.nodePort = port
          ctx.learned.nginxUrl = url
          ctx.log(`${url} answered 200`)
        }
      }
    ])
  ]
}
