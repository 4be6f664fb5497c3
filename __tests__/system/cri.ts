// A CRI client for the booted machine: @grpc/grpc-js on the host, reaching containerd's socket
// through the machine's /proc/PID/root (its /run is a tmpfs only the machine sees).
import * as grpc from '@grpc/grpc-js'
import * as loader from '@grpc/proto-loader'
import { join } from 'node:path'
import type { Machine } from './machine.js'

const definition = loader.loadSync(join(import.meta.dirname, '../fixtures/cri.proto'), { keepCase: false, longs: String, enums: Number, defaults: true })
const proto = grpc.loadPackageDefinition(definition) as any

export interface Cri {
  runtime(method: string, req: object, timeoutMs?: number): Promise<any>
  image(method: string, req: object, timeoutMs?: number): Promise<any>
  close(): void
}

/** A CRI client for the machine's containerd (socket path inside the machine, default /run/containerd/containerd.sock). */
export function criClient(m: Machine, socket = '/run/containerd/containerd.sock'): Cri {
  const address = `unix://${join(m.procRoot, socket)}`
  const rt = new proto.runtime.v1.RuntimeService(address, grpc.credentials.createInsecure())
  const im = new proto.runtime.v1.ImageService(address, grpc.credentials.createInsecure())
  const call =
    (client: any) =>
    (method: string, req: object, timeoutMs = 30_000): Promise<any> =>
      new Promise((resolve, reject) => {
        const name = method.charAt(0).toLowerCase() + method.slice(1)
        client[name](req, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)))
      })
  return { runtime: call(rt), image: call(im), close: () => (rt.close(), im.close()) }
}

/**
 * The machine's cgroup2 tree has no controllers (see machine.ts), so runc fails on any
 * resource a container asks for: "openat2 /sys/fs/cgroup/…/cpu.weight: no such file or
 * directory" (containerd 1.6 gives every pause container CPU shares 2). This wrapper, set as
 * the runc runtime's BinaryName, deletes linux.resources' controller-backed limits (cpu,
 * memory, pids, blockIO, hugepageLimits, unified) from the bundle's config.json before runc
 * runs; device rules stay.
 */
export const RUNC_WITHOUT_LIMITS = '/usr/local/sbin/runc-without-limits'

export async function installRuncWithoutLimits(m: Machine): Promise<string> {
  await m.writeFile(
    RUNC_WITHOUT_LIMITS,
    `#!/bin/sh
# ksn system tests: runc without cgroup limits (the machine's cgroup2 has no controllers).
prev=''
bundle=''
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle=$a ;; esac
  case "$a" in --bundle=*) bundle=\${a#--bundle=} ;; esac
  prev=$a
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
r = c.get("linux", {}).get("resources", {})
for k in ("cpu", "memory", "pids", "blockIO", "hugepageLimits", "unified"):
    r.pop(k, None)
json.dump(c, open(p, "w"))
PY
fi
exec /usr/bin/runc "$@"
`,
    { mode: 0o755 }
  )
  return RUNC_WITHOUT_LIMITS
}

export interface CriConfigOptions {
  /** default registry.k8s.io/pause:3.10.1 */
  sandboxImage?: string
  /** needed here: lowering oom_score_adj needs CAP_SYS_RESOURCE, which this host withholds even from root */
  restrictOomScoreAdj?: boolean
  /** a runc wrapper, e.g. RUNC_WITHOUT_LIMITS */
  binaryName?: string
  systemdCgroup?: boolean
}

/** A containerd 1.x (config version 2) config with the CRI on, registry mirrors from /etc/containerd/certs.d. */
export function criContainerdConfig(o: CriConfigOptions = {}): string {
  return `version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.sandboxImage ?? 'registry.k8s.io/pause:3.10.1'}"
  restrict_oom_score_adj = ${o.restrictOomScoreAdj ?? false}
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = ${o.systemdCgroup ?? true}${o.binaryName ? `\n      BinaryName = "${o.binaryName}"` : ''}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`
}

/** hosts.toml files sending pulls for these registries to the mirror (the path is kept: registry.k8s.io/pause -> /v2/pause). */
export async function mirrorRegistries(m: Machine, registries = ['registry.k8s.io', 'docker.io', 'ghcr.io'], mirror = 'http://127.0.0.1:5000'): Promise<void> {
  for (const r of registries) {
    const server = r === 'docker.io' ? 'https://registry-1.docker.io' : `https://${r}`
    await m.writeFile(`/etc/containerd/certs.d/${r}/hosts.toml`, `server = "${server}"\n\n[host."${mirror}"]\n  capabilities = ["pull", "resolve"]\n`)
  }
}
