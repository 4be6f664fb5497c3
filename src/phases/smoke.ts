// smoke: nginx behind a NodePort Service, deployed as soon as the API answers (overlapping
// the CNI rollout), then asked over HTTP on the node's InternalIP until it answers 200, while
// the cluster wait (ready.cluster) runs beside it. An add-on may ask the same nginx its own
// way, beside these (src/addons, smokeSteps).
import { enabledAddons } from '../addons/index.js'
import { SMOKE } from '../config/defaults.js'
import { step, type Step } from '../engine/step.js'
import { kubectl, nodeFacts, unreadyPods } from '../kube/kubectl.js'
import { httpStatus, waitUntil } from '../kube/wait.js'
import { CONTROL_PLANE_TAINT } from '../render/kubeadm.js'
import { renderSmokeManifest } from '../render/smoke.js'
import type { PlanContext } from './context.js'
import { readinessDeadline } from './ready.js'

export function smokeSteps(p: PlanContext): Step[] {
  const { config, bin, files, kubeEnv, smokeTest } = p
  if (!smokeTest) return []
  // with the taint kept, the proof still runs: nginx tolerates it
  const tolerations = config.untaint ? [] : [{ ...CONTROL_PLANE_TAINT, operator: 'Exists' }]
  // an add-on checks the same nginx its own way (a LoadBalancer Service's address)
  const target = { name: SMOKE.name, namespace: SMOKE.namespace, labels: { app: SMOKE.name }, deployStep: 'smoke.deploy' as const }
  return [
    step('smoke.deploy', `deploy ${config.smokeTestImage} behind a NodePort Service`, ['init.kubeconfig'], [
      { kind: 'write', path: files.smokeManifest, render: () => renderSmokeManifest(SMOKE.name, SMOKE.namespace, config.smokeTestImage, tolerations) },
      { kind: 'exec', argv: [bin('kubectl'), 'apply', '-f', files.smokeManifest], env: kubeEnv }
    ]),
    // beside ready.cluster, not after it: nginx answering is the last thing either waits for,
    // so the run ends when the later of the two does, not at their sum
    step('smoke.check', 'nginx answers 200 on the node IP and NodePort', ['smoke.deploy'], [
      {
        kind: 'task',
        title: 'HTTP GET http://<node InternalIP>:<nodePort>/ until 200',
        shows: [
          `$ kubectl get service ${SMOKE.name} -o json   (nodePort)`,
          '$ kubectl get nodes -o json   (the InternalIP)',
          'GET http://<node InternalIP>:<nodePort>/ until it answers 200, within the deadline, while the cluster wait runs'
        ],
        run: async (ctx) => {
          const k = kubectl(ctx.host.run, bin('kubectl'), files.kubeconfig)
          const svc = await k.json(['get', 'service', SMOKE.name, '-n', SMOKE.namespace])
          const port = Number(svc.spec?.ports?.[0]?.nodePort)
          if (!Number.isInteger(port) || port <= 0) throw new Error(`service ${SMOKE.name} has no nodePort`)
          let url = ''
          await waitUntil(
            `nginx to answer 200 on the node's NodePort ${port}`,
            readinessDeadline(ctx, config.timeoutSeconds),
            async (observe) => {
              // the node's address: the cluster wait may not have read it yet
              const ip = ctx.learned.nodeIp || nodeFacts((await k.json(['get', 'nodes'])).items[0] ?? {}).ip
              if (!ip) {
                observe('no node address yet')
                return undefined
              }
              url = `http://${ip}:${port}/`
              const status = await httpStatus(url)
              observe(`HTTP ${status} from ${url}`)
              return status === 200 ? true : undefined
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
    ]),
    ...enabledAddons(config).flatMap((a) => a.smokeSteps?.(p, target) ?? [])
  ]
}
