// Every input is parsed and validated here, once, into one typed Config. Deeper modules
// receive values and never read inputs. All problems are collected so that one run
// reports every bad input, and nothing here touches the host.
import ipaddr from 'ipaddr.js'
import semver from 'semver'
import { CNI_NAMES, type Cni } from '../cnis/index.js'
import { isImageReference, isImageRepository, normalizeImage } from '../images/ref.js'
import { RUNTIME_NAMES, type Runtime } from '../runtimes/index.js'
import { DEFAULTS } from './defaults.js'
import { OLDEST_MINOR } from './kubernetes.js'

export type VersionSpec =
  | { kind: 'stable' }
  | { kind: 'minor'; minor: number }
  | { kind: 'exact'; version: string } // always "vX.Y.Z[-pre]"

export interface RegistryMirror {
  /** the registry whose pulls are redirected, e.g. docker.io */
  registry: string
  /** endpoints tried in order before the registry itself, e.g. https://mirror.gcr.io */
  endpoints: string[]
}

export type Cleanup = 'auto' | 'true' | 'false'

export interface Config {
  kubernetesVersion: VersionSpec
  containerRuntime: Runtime
  cni: Cni
  cniManifest?: string
  podNetworkCidr: string
  serviceCidr: string
  imageRepository: string
  registryMirrors: RegistryMirror[]
  preloadImages: string[]
  imageArchives: string[]
  untaint: boolean
  smokeTest: boolean
  smokeTestImage: string
  timeoutSeconds: number
  kubernetesReleaseUrl: string
  githubUrl: string
  cleanup: Cleanup
  dryRun: boolean
  planDir?: string
}

/** Every input the action declares, in action.yml's order. */
export const INPUT_NAMES = [
  'kubernetes-version',
  'container-runtime',
  'cni',
  'cni-manifest',
  'pod-network-cidr',
  'service-cidr',
  'image-repository',
  'registry-mirrors',
  'preload-images',
  'image-archives',
  'untaint',
  'smoke-test',
  'smoke-test-image',
  'timeout',
  'kubernetes-release-url',
  'github-url',
  'cleanup',
  'dry-run',
  'plan-dir'
] as const

/** Reads one input's raw text; '' when unset. */
export type InputGetter = (name: string) => string

export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} inputs are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`
    )
    this.name = 'InputError'
  }
}

class Problem extends Error {}

function reject(input: string, value: string, accepted: string): never {
  throw new Problem(`Input '${input}' has the value ${JSON.stringify(value)}; accepted: ${accepted}.`)
}

const VERSION_RE = /^v?(\d+)\.(\d+)(?:\.(\d+)(-[0-9A-Za-z.-]+)?)?$/

export function parseVersionSpec(value: string, input = 'kubernetes-version'): VersionSpec {
  const accepted = `'stable', a minor such as '1.34', or a release such as 'v1.34.2' or '1.34.2' (oldest 1.${OLDEST_MINOR})`
  if (value === 'stable' || value === 'latest') return { kind: 'stable' }
  const m = VERSION_RE.exec(value)
  if (!m || m[1] !== '1') reject(input, value, accepted)
  const minor = Number(m[2])
  if (minor < OLDEST_MINOR) reject(input, value, accepted)
  if (m[3] === undefined) return { kind: 'minor', minor }
  const version = `v${m[1]}.${m[2]}.${m[3]}${m[4] ?? ''}`
  if (!semver.valid(version)) reject(input, value, accepted)
  return { kind: 'exact', version }
}

const BOOL_TRUE = ['true', 'True', 'TRUE']
const BOOL_FALSE = ['false', 'False', 'FALSE']

function parseBool(input: string, value: string): boolean {
  if (BOOL_TRUE.includes(value)) return true
  if (BOOL_FALSE.includes(value)) return false
  reject(input, value, "'true' or 'false'")
}

function parseChoice<T extends string>(input: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T
  reject(input, value, choices.map((c) => `'${c}'`).join(', '))
}

const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/

/** "300", "300s", "5m", "1m30s", "1h": a positive number of seconds. */
export function parseDuration(input: string, value: string): number {
  const accepted = "a positive duration such as '300', '300s', '5m' or '1m30s'"
  let seconds: number
  if (/^\d+$/.test(value)) {
    seconds = Number(value)
  } else {
    const m = DURATION_RE.exec(value)
    if (!m || value === '') reject(input, value, accepted)
    seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) reject(input, value, accepted)
  return seconds
}

function parseCidr(input: string, value: string): [ipaddr.IPv4, number] {
  const accepted = "an IPv4 network in CIDR form, such as '10.244.0.0/16'"
  try {
    if (!ipaddr.IPv4.isValidFourPartDecimal(value.split('/')[0] ?? '')) throw new Error('not IPv4')
    const [addr, bits] = ipaddr.IPv4.parseCIDR(value)
    if (bits < 8 || bits > 28) reject(input, value, `${accepted}, with a prefix length from /8 to /28`)
    return [addr, bits]
  } catch (err) {
    if (err instanceof Problem) throw err
    reject(input, value, accepted)
  }
}

function cidrsOverlap(a: [ipaddr.IPv4, number], b: [ipaddr.IPv4, number]): boolean {
  return a[0].match(b) || b[0].match(a)
}

function parseUrl(input: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    reject(input, value, "an http:// or https:// URL such as 'https://dl.k8s.io/release'")
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    reject(input, value, "an http:// or https:// URL such as 'https://dl.k8s.io/release'")
  }
  if (url.username || url.password) {
    // Neither containerd's hosts.toml nor the downloads use credentials in a URL; and the
    // error must not repeat them.
    url.username = url.password = '***'
    reject(input, url.href, 'a URL without credentials (mirrors are pulled anonymously)')
  }
  return value.replace(/\/+$/, '')
}

/** Multiline or comma-separated lists; blank lines and #-comments are ignored. */
export function parseList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((s) => s.replace(/#.*$/, '').trim())
    .filter((s) => s !== '')
}

const REGISTRY_HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?$/

function parseMirrors(input: string, value: string): RegistryMirror[] {
  const accepted =
    "one line per registry, 'REGISTRY=ENDPOINT[ ENDPOINT...]', such as 'docker.io=https://mirror.gcr.io'"
  const byRegistry = new Map<string, RegistryMirror>()
  for (const line of value.split('\n').map((l) => l.replace(/#.*$/, '').trim())) {
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) reject(input, line, accepted)
    const registry = line.slice(0, eq).trim()
    if (!REGISTRY_HOST_RE.test(registry)) reject(input, line, accepted)
    const endpoints = line
      .slice(eq + 1)
      .split(/[\s,]+/)
      .filter((e) => e !== '')
      .map((e) => parseUrl(input, e))
    if (endpoints.length === 0) reject(input, line, accepted)
    const existing = byRegistry.get(registry)
    if (existing) existing.endpoints.push(...endpoints)
    else byRegistry.set(registry, { registry, endpoints })
  }
  return [...byRegistry.values()]
}

function parseImage(input: string, value: string): string {
  if (!isImageReference(value)) {
    reject(input, value, "an image reference such as 'nginx:1.29', 'docker.io/library/nginx:stable-alpine' or 'ghcr.io/org/app@sha256:…'")
  }
  return normalizeImage(value)
}

function parseArchivePath(input: string, value: string): string {
  if (!value.startsWith('/') && !value.startsWith('./') && !/^[\w.-]/.test(value)) {
    reject(input, value, 'paths to image tarballs (docker save or OCI archives)')
  }
  if (value.includes('\0')) reject(input, value, 'paths to image tarballs')
  return value
}

/**
 * Parses and validates every input. Throws InputError listing each bad input with its value
 * and the accepted forms.
 */
export function parseInputs(get: InputGetter): Config {
  const problems: string[] = []
  const read = (name: string, fallback = ''): string => {
    const v = get(name).trim()
    return v === '' ? fallback : v
  }
  function field<T>(fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      if (err instanceof Problem) {
        problems.push(err.message)
        return undefined
      }
      throw err
    }
  }

  const kubernetesVersion = field(() => parseVersionSpec(read('kubernetes-version', DEFAULTS.kubernetesVersion)))
  const containerRuntime = field(() =>
    parseChoice<Runtime>('container-runtime', read('container-runtime', DEFAULTS.containerRuntime), RUNTIME_NAMES)
  )
  const cni = field(() => parseChoice<Cni>('cni', read('cni', DEFAULTS.cni), CNI_NAMES))
  const cniManifestRaw = read('cni-manifest')
  const cniManifest = cniManifestRaw === '' ? undefined : field(() =>
    /^https?:\/\//.test(cniManifestRaw) ? parseUrl('cni-manifest', cniManifestRaw) : parseArchivePath('cni-manifest', cniManifestRaw)
  )
  const podCidr = field(() => parseCidr('pod-network-cidr', read('pod-network-cidr', DEFAULTS.podNetworkCidr)))
  const serviceCidr = field(() => parseCidr('service-cidr', read('service-cidr', DEFAULTS.serviceCidr)))
  if (podCidr && serviceCidr && cidrsOverlap(podCidr, serviceCidr)) {
    problems.push(
      `Inputs 'pod-network-cidr' (${read('pod-network-cidr', DEFAULTS.podNetworkCidr)}) and 'service-cidr' (${read('service-cidr', DEFAULTS.serviceCidr)}) overlap; accepted: two disjoint IPv4 networks, such as the defaults ${DEFAULTS.podNetworkCidr} and ${DEFAULTS.serviceCidr}.`
    )
  }
  const imageRepository = field(() => {
    const v = read('image-repository', DEFAULTS.imageRepository).replace(/\/+$/, '')
    if (!isImageRepository(v)) {
      reject('image-repository', v, "a registry with an optional path and no tag, such as 'registry.k8s.io' or 'registry.aliyuncs.com/google_containers'")
    }
    return v
  })
  const registryMirrors = field(() => parseMirrors('registry-mirrors', read('registry-mirrors')))
  const preloadImages = field(() => parseList(read('preload-images')).map((i) => parseImage('preload-images', i)))
  const imageArchives = field(() => parseList(read('image-archives')).map((p) => parseArchivePath('image-archives', p)))
  const untaint = field(() => parseBool('untaint', read('untaint', 'true')))
  const smokeTest = field(() => parseBool('smoke-test', read('smoke-test', 'true')))
  const smokeTestImage = field(() => parseImage('smoke-test-image', read('smoke-test-image', DEFAULTS.smokeTestImage)))
  const timeoutSeconds = field(() => parseDuration('timeout', read('timeout', DEFAULTS.timeout)))
  const kubernetesReleaseUrl = field(() => parseUrl('kubernetes-release-url', read('kubernetes-release-url', DEFAULTS.kubernetesReleaseUrl)))
  const githubUrl = field(() => parseUrl('github-url', read('github-url', DEFAULTS.githubUrl)))
  const cleanup = field(() => parseChoice<Cleanup>('cleanup', read('cleanup', DEFAULTS.cleanup), ['auto', 'true', 'false']))
  const dryRun = field(() => parseBool('dry-run', read('dry-run', 'false')))
  const planDirRaw = read('plan-dir')

  if (problems.length > 0) throw new InputError(problems)
  return {
    kubernetesVersion: kubernetesVersion!,
    containerRuntime: containerRuntime!,
    cni: cni!,
    cniManifest,
    podNetworkCidr: read('pod-network-cidr', DEFAULTS.podNetworkCidr),
    serviceCidr: read('service-cidr', DEFAULTS.serviceCidr),
    imageRepository: imageRepository!,
    registryMirrors: registryMirrors!,
    preloadImages: preloadImages!,
    imageArchives: imageArchives!,
    untaint: untaint!,
    smokeTest: smokeTest!,
    smokeTestImage: smokeTestImage!,
    timeoutSeconds: timeoutSeconds!,
    kubernetesReleaseUrl: kubernetesReleaseUrl!,
    githubUrl: githubUrl!,
    cleanup: cleanup!,
    dryRun: dryRun!,
    planDir: planDirRaw === '' ? undefined : planDirRaw
  }
}
