// Waiting for containerd after a restart: its API answers, then the CRI plugin is loaded.
// A disabled or failed CRI plugin is the commonest way a runner's containerd breaks kubeadm
// (Docker's config ships disabled_plugins = ["cri"]), so it gets its own error.
import { lastLines, type Run } from '../../host/exec.js'
import { waitUntil } from '../../kube/wait.js'

export interface ReadyOptions {
  run: Run
  /** the ctr binary; 'ctr' from PATH on a host */
  ctr?: string
  /** containerd's socket path */
  address: string
  /** epoch ms */
  deadline: number
  /** the daemon's last log lines, for the error */
  logs: () => Promise<string>
}

/** STATUS of the `io.containerd.grpc.v1 cri` row of `ctr plugins ls`, or undefined when absent. */
export function criPluginStatus(pluginList: string): string | undefined {
  for (const line of pluginList.split('\n')) {
    const [type, id, , status] = line.trim().split(/\s+/)
    if (type === 'io.containerd.grpc.v1' && id === 'cri') return status
  }
  return undefined
}

export async function waitForContainerd(o: ReadyOptions): Promise<string> {
  const ctr = [o.ctr ?? 'ctr', '--address', o.address]
  const explain = async (): Promise<string> => `containerd's last log lines:\n${lastLines((await o.logs().catch(() => '')).trim(), 20) || '(none)'}`
  const version = await waitUntil(
    `containerd to answer on ${o.address}`,
    o.deadline,
    async (observe) => {
      const res = await o.run([...ctr, 'version'], { privileged: true, allowFailure: true })
      const m = /Server:[\s\S]*?Version:\s*(\S+)/.exec(res.stdout)
      if (res.exitCode === 0 && m) return m[1]
      observe(lastLines((res.stderr || res.stdout).trim(), 2))
      return undefined
    },
    { explain }
  )
  const plugins = (await o.run([...ctr, 'plugins', 'ls'], { privileged: true })).stdout
  const status = criPluginStatus(plugins)
  if (status === 'ok') return version
  const why =
    status === undefined
      ? 'the CRI plugin is not loaded (disabled_plugins lists "cri"?)'
      : `the CRI plugin did not load (status: ${status})`
  throw new Error(`containerd ${version} answers, but ${why}; kubeadm would fail with "unknown service runtime.v1.RuntimeService".\n${await explain()}`)
}
