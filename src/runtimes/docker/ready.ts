// Waiting for cri-dockerd: systemd holds its socket from the start, so a connection alone
// proves nothing; CRI's Version call answering with Docker behind it does.
import { lastLines, type Run } from '../../host/exec.js'
import { waitUntil } from '../../kube/wait.js'

export interface CriReadyOptions {
  run: Run
  crictl: string
  /** unix:///run/cri-dockerd.sock */
  endpoint: string
  /** epoch ms */
  deadline: number
  /** the service's last log lines, for the error */
  logs: () => Promise<string>
}

export function crictlVersionArgv(crictl: string, endpoint: string): string[] {
  return [crictl, '--runtime-endpoint', endpoint, '--timeout', '5s', 'version']
}

/** `crictl version`'s RuntimeName and RuntimeVersion, e.g. docker and 28.0.4. */
export function parseCrictlVersion(out: string): { name: string; version: string } | undefined {
  const name = /^RuntimeName:\s*(\S+)/m.exec(out)?.[1]
  const version = /^RuntimeVersion:\s*(\S+)/m.exec(out)?.[1]
  return name && version ? { name, version } : undefined
}

/** Resolves with Docker's version as cri-dockerd reports it. */
export async function waitForCriDockerd(o: CriReadyOptions): Promise<string> {
  return waitUntil(
    `cri-dockerd to answer CRI on ${o.endpoint}`,
    o.deadline,
    async (observe) => {
      const res = await o.run(crictlVersionArgv(o.crictl, o.endpoint), { privileged: true, allowFailure: true })
      const v = res.exitCode === 0 ? parseCrictlVersion(res.stdout) : undefined
      if (v?.name === 'docker') return v.version
      observe(v ? `a runtime named ${v.name}, not docker` : lastLines((res.stderr || res.stdout).trim(), 2))
      return undefined
    },
    { explain: async () => `cri-docker's last log lines:\n${lastLines((await o.logs().catch(() => '')).trim(), 20) || '(none)'}` }
  )
}
