// Docker's daemon.json, merged into what the host already has: hosted runners ship their
// own keys (cgroup-parent for container jobs, for one) that must survive.

/**
 * A cgroup-parent in the form the systemd cgroup driver takes. dockerd refuses to start with
 * the systemd driver and a parent that is not a slice ("cgroup-parent for systemd cgroup
 * should be a valid slice named as xxx.slice", moby daemon/daemon_unix.go), and hosted
 * runners set "/actions_job" for cgroupfs: the same parent as a slice is actions_job.slice.
 */
export function systemdCgroupParent(parent: string): string {
  if (parent.endsWith('.slice') && parent.length > 6) return parent
  const name = parent.replace(/^\/+|\/+$/g, '').replace(/\//g, '-')
  return `${name || 'docker'}.slice`
}

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
    if (typeof out['cgroup-parent'] === 'string' && out['cgroup-parent'] !== '') out['cgroup-parent'] = systemdCgroupParent(out['cgroup-parent'])
  }
  return `${JSON.stringify(out, null, 2)}\n`
}
