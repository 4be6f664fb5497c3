// containerd's config.toml and registry hosts files. Pure renderers over a TOML serializer.
// containerd 2.x reads layout version 3 (CRI split into cri.v1.images and cri.v1.runtime);
// 1.6/1.7 read version 2 (one grpc.v1.cri plugin). The layouts cannot be mixed in one file,
// so the whole file is written for the detected major.
import { stringify } from 'smol-toml'
import type { RegistryMirror } from '../../config/inputs.js'
import { shown, type HostAuth } from '../../images/credentials.js'
import { registryHosts } from '../../images/mirrors.js'

export interface ContainerdConfigOptions {
  /** containerd's major version as detected on the host */
  major: number
  /** exactly what `kubeadm config images list` names as pause */
  sandboxImage: string
  /** the registry hosts directory, e.g. /etc/containerd/certs.d */
  certsDir: string
  /** optional overrides so that a private daemon (tests, nested setups) keeps to its own dirs */
  root?: string
  state?: string
  address?: string
  /** registry-credentials, by the host they are sent to: written for containerd 1.x only */
  auths?: readonly HostAuth[]
  /** the real tokens (the file containerd reads); otherwise placeholders (the plan) */
  reveal?: boolean
}

/**
 * containerd 1.x only: the CRI's registry auth, `registry.configs."HOST".auth`, next to
 * config_path: the CRI asks it for the host of each request a registry refused, mirrors
 * included, when the kubelet sends no credentials of its own (containerd's docs/cri/registry.md;
 * its CRI image service, registryHosts / PullImage, reads `Configs[host].Auth` with
 * config_path set). containerd 2.x deprecates it and removes it in v2.4 (pkg/deprecation's
 * CRIRegistryConfigs: "will be removed in containerd v2.4"): there the credentials go with
 * the pull itself, from a kubelet credential provider (src/render/credential-provider.ts) and
 * the preload's crictl, and the file holds none.
 */
function registryConfigs(o: ContainerdConfigOptions): Record<string, unknown> {
  if (!o.auths?.length || o.major >= 2) return {}
  return { configs: Object.fromEntries(o.auths.map((a) => [a.host, { auth: { username: a.username, password: shown(a.password, o.reveal ?? false) } }])) }
}

export function renderContainerdConfig(o: ContainerdConfigOptions): string {
  const top: Record<string, unknown> = {}
  if (o.root) top.root = o.root
  if (o.state) top.state = o.state
  if (o.address) top.grpc = { address: o.address }
  const runc = { runtime_type: 'io.containerd.runc.v2', options: { SystemdCgroup: true } }
  if (o.major >= 2) {
    return stringify({
      version: 3,
      ...top,
      // Docker's containerd.io package ships disabled_plugins = ["cri"]; kubeadm needs it on.
      disabled_plugins: [],
      plugins: {
        'io.containerd.cri.v1.images': {
          pinned_images: { sandbox: o.sandboxImage },
          registry: { config_path: o.certsDir }
        },
        'io.containerd.cri.v1.runtime': {
          containerd: { default_runtime_name: 'runc', runtimes: { runc } }
        }
      }
    })
  }
  return stringify({
    version: 2,
    ...top,
    disabled_plugins: [],
    plugins: {
      'io.containerd.grpc.v1.cri': {
        sandbox_image: o.sandboxImage,
        containerd: { default_runtime_name: 'runc', runtimes: { runc } },
        registry: { config_path: o.certsDir, ...registryConfigs(o) }
      }
    }
  })
}

/** certs.d/<registry>/hosts.toml: mirrors first, in order, then the server. */
export function renderHostsToml(mirror: RegistryMirror): string {
  const { server, mirrors } = registryHosts(mirror)
  const doc: Record<string, unknown> = { server }
  if (mirrors.length > 0) doc.host = Object.fromEntries(mirrors.map((m) => [m, { capabilities: ['pull', 'resolve'] }]))
  return stringify(doc)
}

/**
 * certs.d/<host>/hosts.toml for a registry on the host's loopback (an add-on's, localhost:5000):
 * its server over plain HTTP, for that host alone; every other registry keeps HTTPS. The
 * server is the registry itself, so it may pull, resolve and push (containerd's
 * docs/hosts.md: a server takes every capability).
 */
export function renderLoopbackHostsToml(host: string): string {
  return stringify({ server: `http://${host}` })
}
