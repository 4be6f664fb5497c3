// Reading the cluster through kubectl's JSON: readiness of the node and of system pods,
// and an account of what is not ready, for errors and diagnostics.
import type { Run } from '../host/exec.js'

export interface Kubectl {
  json<T = any>(args: string[]): Promise<T>
}

export function kubectl(run: Run, bin: string, kubeconfig: string): Kubectl {
  const env = { KUBECONFIG: kubeconfig }
  return {
    async json(args) {
      const res = await run([bin, ...args, '-o', 'json'], { env })
      return JSON.parse(res.stdout)
    }
  }
}

interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
}

export interface NodeFacts {
  name: string
  ip: string
  ready: boolean
  why: string
}

export function nodeFacts(node: any): NodeFacts {
  const conds: Condition[] = node.status?.conditions ?? []
  const ready = conds.find((c) => c.type === 'Ready')
  const ip = (node.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? ''
  return {
    name: node.metadata?.name ?? '',
    ip,
    ready: ready?.status === 'True',
    why: ready ? `${ready.reason ?? ''}: ${ready.message ?? ''}`.trim() : 'no Ready condition yet'
  }
}

/** One line per pod that is not ready, with the reason its containers give. */
export function unreadyPods(pods: any[], namespaces?: readonly string[]): string[] {
  const out: string[] = []
  for (const pod of pods) {
    const ns = pod.metadata?.namespace
    if (namespaces && !namespaces.includes(ns)) continue
    if (pod.status?.phase === 'Succeeded') continue
    const ready = (pod.status?.conditions ?? []).find((c: Condition) => c.type === 'Ready')?.status === 'True'
    if (ready) continue
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    const reasons = statuses
      .map((s: any) => s.state?.waiting?.reason ?? s.state?.terminated?.reason)
      .filter((r: string | undefined) => r !== undefined)
    const why = reasons.length ? reasons.join(', ') : (pod.status?.reason ?? pod.status?.phase ?? 'Unknown')
    out.push(`${ns}/${pod.metadata?.name}: ${why}`)
  }
  return out
}

/** The last events, newest last, as "namespace kind/name: reason: message". */
export function lastEvents(events: any[], n: number): string[] {
  const time = (e: any): string => e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? ''
  return [...events]
    .sort((a, b) => time(a).localeCompare(time(b)))
    .slice(-n)
    .map((e) => `${e.metadata?.namespace} ${e.involvedObject?.kind}/${e.involvedObject?.name}: ${e.reason}: ${String(e.message ?? '').trim()}`)
}
