// Image references, by the grammar of distribution/reference (the one containerd and
// Docker parse with), so that a bad `smoke-test-image` or `preload-images` entry is refused
// up front instead of failing a pull minutes later.

const alnum = '[a-z0-9]+'
const separator = '(?:[._]|__|[-]+)'
const pathComponent = `${alnum}(?:${separator}${alnum})*`
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]'
const domainName = `${domainComponent}(?:\\.${domainComponent})*`
const host = `(?:${domainName}|${ipv6})`
const domain = `${host}(?::[0-9]+)?`
const tag = '[\\w][\\w.-]{0,127}'
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`
const REFERENCE = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`)
const REPOSITORY = new RegExp(`^${domain}(?:/${pathComponent})*$`)

export interface ImageRef {
  /** registry host, e.g. docker.io or registry.k8s.io */
  registry: string
  /** path inside the registry, e.g. library/nginx */
  path: string
  tag?: string
  digest?: string
}

export function isImageReference(value: string): boolean {
  if (!REFERENCE.test(value) || value.length > 255) return false
  // The grammar lets an uppercase first component through as a host; Docker's normalization
  // then reads it as a path component, which must be lowercase (`UPPER/x` is refused by docker).
  return /^[a-z0-9._/-]+$/.test(parseImageRef(value).path)
}

/** A repository prefix such as `registry.aliyuncs.com/google_containers` (no tag). */
export function isImageRepository(value: string): boolean {
  return REPOSITORY.test(value)
}

export function parseImageRef(value: string): ImageRef {
  const m = REFERENCE.exec(value)
  if (!m) throw new Error(`"${value}" is not an image reference`)
  const [, fullName, t, d] = m
  const first = fullName.split('/')[0]
  // Docker's rule: the first component is a registry only if it looks like a host.
  const hasRegistry =
    fullName.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
  let registry = hasRegistry ? first : 'docker.io'
  let path = hasRegistry ? fullName.slice(first.length + 1) : fullName
  if (registry === 'index.docker.io') registry = 'docker.io'
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`
  return { registry, path, tag: t ?? (d ? undefined : 'latest'), digest: d }
}

/** The fully qualified name containerd stores an image under (docker.io/library/nginx:latest). */
export function normalizeImage(value: string): string {
  const ref = parseImageRef(value)
  return formatImageRef(ref)
}

export function formatImageRef(ref: ImageRef): string {
  let out = `${ref.registry}/${ref.path}`
  if (ref.tag) out += `:${ref.tag}`
  if (ref.digest) out += `@${ref.digest}`
  return out
}
