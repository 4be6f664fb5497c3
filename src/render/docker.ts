// Docker's daemon.json, merged into what the host already has: hosted runners ship their
// own keys (cgroup-parent for container jobs, for one) that must survive.

export interface DaemonJsonOptions {
  /** docker.io mirrors: Docker's registry-mirrors only ever mirror Docker Hub */
  dockerHubMirrors: string[]
  cgroupDriver?: 'systemd'
}

export function renderDaemonJson(existing: Record<string, unknown> | undefined, o: DaemonJsonOptions): string {
  const out: Record<string, unknown> = { ...(existing ?? {}) }
  const union = (key: string, add: string[]): void => {
    if (add.length === 0) return
    const prev = Array.isArray(out[key]) ? (out[key] as string[]) : []
    out[key] = [...new Set([...prev, ...add])]
  }
  union('registry-mirrors', o.dockerHubMirrors)
  if (o.cgroupDriver) {
    const opts = (Array.isArray(out['exec-opts']) ? (out['exec-opts'] as string[]) : []).filter(
      (x) => !x.startsWith('native.cgroupdriver=')
    )
    out['exec-opts'] = [...opts, `native.cgroupdriver=${o.cgroupDriver}`]
  }
  return `${JSON.stringify(out, null, 2)}\n`
}
