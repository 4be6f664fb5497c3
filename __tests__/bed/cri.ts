// A CRI client for the bed: Debian packages no crictl, so the bed asks containerd's CRI
// over gRPC itself, exactly as the kubelet and kubeadm's preflight do.
import * as grpc from '@grpc/grpc-js'
import * as loader from '@grpc/proto-loader'

const definition = loader.loadSync('__tests__/fixtures/cri.proto', { keepCase: false, longs: String, defaults: true })
const proto = grpc.loadPackageDefinition(definition) as any

export interface CriStatus {
  runtimeName: string
  runtimeApiVersion: string
  conditions: Array<{ type: string; status: boolean }>
}

export async function criStatus(socket: string): Promise<CriStatus> {
  const client = new proto.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure())
  const call = <T>(method: string, req: object): Promise<T> =>
    new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + 5000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))))
  try {
    const v = await call<{ runtimeName: string; runtimeApiVersion: string }>('version', { version: 'v1' })
    const s = await call<{ status: { conditions: Array<{ type: string; status: boolean }> } }>('status', { verbose: false })
    return { runtimeName: v.runtimeName, runtimeApiVersion: v.runtimeApiVersion, conditions: s.status.conditions }
  } finally {
    client.close()
  }
}

export interface CriImage {
  /** the image config's digest: Docker's image ID for an image saved from Docker */
  id: string
  repoTags: string[]
  pinned: boolean
}

/** The images as the kubelet sees them through the CRI. */
export async function criImages(socket: string): Promise<CriImage[]> {
  const client = new proto.runtime.v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure())
  try {
    const res = await new Promise<{ images: CriImage[] }>((resolve, reject) =>
      client.listImages({}, { deadline: Date.now() + 5000 }, (err: Error | null, r: { images: CriImage[] }) => (err ? reject(err) : resolve(r)))
    )
    return res.images
  } finally {
    client.close()
  }
}

/**
 * Pulls as the kubelet does. Without `auth`, as for a pod without imagePullSecrets and no
 * credential provider: containerd uses what its own config holds for the registry's host.
 * With it, as the kubelet sends what a credential provider answered: username and password
 * and no server address (the kubelet's keyring sets none).
 */
export async function criPull(socket: string, image: string, auth?: { username: string; password: string }): Promise<string> {
  const client = new proto.runtime.v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure())
  try {
    const res = await new Promise<{ imageRef: string }>((resolve, reject) =>
      client.pullImage({ image: { image }, ...(auth ? { auth } : {}) }, { deadline: Date.now() + 60_000 }, (err: Error | null, r: { imageRef: string }) => (err ? reject(err) : resolve(r)))
    )
    return res.imageRef
  } finally {
    client.close()
  }
}
