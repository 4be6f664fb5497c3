// Every input is parsed and validated here, once, into one typed Config made of sections
// (src/config/inputs.ts). The inputs themselves, their defaults and accepted forms are
// declared in ./table.ts. Deeper modules receive values and never read inputs.
// All problems are collected so that one run reports every bad input, and nothing here
// touches the host.
import ipaddr from 'ipaddr.js'
import semver from 'semver'
import { CNIS, type Cni } from '../cnis/index.js'
import { isImageReference, isImageRepository, normalizeImage } from '../images/ref.js'
import { RUNTIMES, type Runtime } from '../runtimes/index.js'
import { DEFAULTS } from '../config/defaults.js'
import {
  BOOLEAN_FALSE,
  BOOLEAN_FORMS,
  BOOLEAN_TRUE,
  CLEANUP_FORMS,
  CNI_VERSION_FORMS,
  CREDENTIALS_FORM,
  DURATION_FORMS,
  IMAGE_FORMS,
  inputSpec,
  LOCAL_REGISTRY_FORMS,
  MIRROR_PRESET_FORMS,
  ON_EXISTING_FORMS,
  RETAG_FORM,
  VERSION_FORMS,
  type InputName
} from './table.js'
import { kubeadmSecrets, looksLikePath, parseFeatureGates, parseKubeadmDocuments, type KubeadmConfigInput } from '../config/kubeadm-config.js'
import { OLDEST_MINOR } from '../config/kubernetes.js'
import { onThisMachine } from '../host/download.js'
import { ADDRESS_POOL_FORMS, parseAddressPool, poolCollisions, poolHostBits } from '../host/address-pool.js'
import { MIRROR_PRESET_NAMES, MIRROR_PRESETS, presetValue, type MirrorPresetName } from '../config/presets.js'
import { Secret } from '../config/secret.js'

// The table's names and the forms its errors print, for the modules and tests that read them here
export { CNI_VERSION_FORMS, CREDENTIALS_FORM, INPUT_NAMES, MIRROR_PRESET_FORMS, ON_EXISTING_FORMS, RETAG_FORM, VERSION_FORMS, type InputName } from './table.js'

export * from '../config/inputs.js'
import { InputError, ON_EXISTING_VALUES, type AddressPool, type DiagnosticsArtifact, type Cleanup, type CniVersionSpec, type Config, type ImageRetag, type InputGetter, type OnExisting, type RegistryCredential, type RegistryMirror, type VersionSpec } from '../config/inputs.js'

class Problem extends Error {}

function reject(input: string, value: string, accepted: string): never {
  throw new Problem(`Input '${input}' has the value ${JSON.stringify(value)}; accepted: ${accepted}.`)
}

/** The registry's default port: the distribution project's own, and kind's. */
export const LOCAL_REGISTRY_DEFAULT_PORT = 5000

/** local-registry: false, or the port of localhost:PORT ('true' is 5000). A port in decimal, no sign, no leading zero. */
export function parseLocalRegistry(value: string): number | false {
  if ((BOOLEAN_TRUE as readonly string[]).includes(value)) return LOCAL_REGISTRY_DEFAULT_PORT
  if ((BOOLEAN_FALSE as readonly string[]).includes(value)) return false
  const port = /^[1-9]\d{0,4}$/.test(value) ? Number(value) : NaN
  if (!(port >= 1 && port <= 65535)) reject('local-registry', value, LOCAL_REGISTRY_FORMS)
  return port
}

const VERSION_RE = /^v?(\d+)\.(\d+)(?:\.(\d+)(-[0-9A-Za-z.-]+)?)?$/

export function parseVersionSpec(value: string, input = 'kubernetes-version'): VersionSpec {
  const accepted = VERSION_FORMS
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

/** A boolean as the YAML 1.2 core schema writes one, as @actions/core's getBooleanInput reads it; the same for every boolean input. */
export function parseBool(input: string, value: string): boolean {
  if ((BOOLEAN_TRUE as readonly string[]).includes(value)) return true
  if ((BOOLEAN_FALSE as readonly string[]).includes(value)) return false
  reject(input, value, BOOLEAN_FORMS)
}

/** cleanup: 'auto', or a boolean in any of the forms every boolean input takes. */
function parseCleanup(value: string): Cleanup {
  if (value === 'auto') return 'auto'
  if ((BOOLEAN_TRUE as readonly string[]).includes(value)) return 'true'
  if ((BOOLEAN_FALSE as readonly string[]).includes(value)) return 'false'
  reject('cleanup', value, CLEANUP_FORMS)
}

function parseChoice<T extends string>(input: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T
  reject(input, value, choices.map((c) => `'${c}'`).join(', '))
}

const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/

/**
 * The longest timeout accepted. kubeadm itself waits 4 minutes for the control plane; an hour
 * is far past any healthy run, and a job stuck longer would only burn runner minutes.
 */
export const MAX_TIMEOUT_SECONDS = 3600

/** "300", "300s", "5m", "1m30s", "1h": a positive number of seconds, at most an hour. */
export function parseDuration(input: string, value: string): number {
  const accepted = DURATION_FORMS
  let seconds: number
  if (/^\d+$/.test(value)) {
    seconds = Number(value)
  } else {
    const m = DURATION_RE.exec(value)
    if (!m || value === '') reject(input, value, accepted)
    seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) reject(input, value, accepted)
  return seconds
}

/**
 * The prefix lengths kubeadm accepts for each network (its validation.go, ValidateNetworking;
 * the API server checks the service network the same way), with the rule said in words.
 */
export const CIDR_RULES = {
  'pod-network-cidr': {
    example: DEFAULTS.podNetworkCidr,
    min: 8,
    max: 24,
    // ValidatePodSubnetNodeMask: the controller manager gives each node a /24 of the pod
    // network (node-cidr-mask-size-ipv4, which this action leaves at its default), so the
    // network must hold at least one /24, and the two masks may differ by at most 16 bits
    // (PodSubnetNodeMaskMaxDiff).
    rule: 'kubeadm gives each node a /24 of the pod network, so the network must hold at least one /24 and be at most 16 bits wider than one'
  },
  'service-cidr': {
    example: DEFAULTS.serviceCidr,
    min: 12,
    max: 28,
    // ValidateServiceSubnetSize: at most MaximumBitsForServiceSubnet = 20 host bits; and
    // ValidateIPNetFromString: at least MinimumAddressesInServiceSubnet = 10 addresses.
    rule: "a service network may have at most 20 host bits, 1,048,576 addresses, kubeadm's and the API server's limit, and needs at least 10 addresses, kubeadm's minimum, as the cluster DNS Service takes the tenth"
  }
} as const

type CidrInput = keyof typeof CIDR_RULES

interface Cidr {
  /** the network as written, trimmed */
  given: string
  /** the network address and prefix, e.g. 10.244.0.0/16 */
  network: string
  addr: ipaddr.IPv4
  bits: number
}

const hostBitsNote = (input: string, value: string, network: string): string =>
  `Input '${input}' has the value ${JSON.stringify(value)}, which has host bits set; it is read as its network, ${network}.`

function parseCidr(input: CidrInput, value: string, notes: string[]): Cidr {
  const { example, min, max, rule } = CIDR_RULES[input]
  const accepted = `an IPv4 network in CIDR form, such as '${example}', with a prefix length from /${min} to /${max} (${rule})`
  let addr: ipaddr.IPv4
  let bits: number
  try {
    if (!ipaddr.IPv4.isValidFourPartDecimal(value.split('/')[0] ?? '')) throw new Error('not IPv4')
    ;[addr, bits] = ipaddr.IPv4.parseCIDR(value)
  } catch {
    reject(input, value, accepted)
  }
  if (bits < min || bits > max) reject(input, value, accepted)
  const net = ipaddr.IPv4.networkAddressFromCIDR(value)
  const network = `${net.toString()}/${bits}`
  if (net.toString() !== addr.toString()) {
    notes.push(hostBitsNote(input, value, network))
  }
  return { given: value, network, addr: net, bits }
}

function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.addr.match(b.addr, b.bits) || b.addr.match(a.addr, a.bits)
}

/** load-balancer-addresses: its form, then the pod and Service networks it must stay out of. */
function parsePool(input: string, value: string, networks: Record<string, string | undefined>, notes: string[]): AddressPool {
  const pool = parseAddressPool(value)
  if (typeof pool === 'string') reject(input, value, `${ADDRESS_POOL_FORMS}; it is ${pool}`)
  const network = poolHostBits(pool)
  if (network) notes.push(hostBitsNote(input, value, network))
  const taken = Object.entries(networks).flatMap(([name, cidr]) => (cidr ? [{ what: `${name} ${cidr}`, cidr }] : []))
  const hits = poolCollisions(pool, taken)
  if (hits.length > 0) reject(input, value, `${ADDRESS_POOL_FORMS}, overlapping neither the pod nor the Service network; it overlaps ${hits.join(' and ')}`)
  return pool
}

/** `files`: a file:// URL of a directory on this machine is accepted too (the release downloads, copied there). */
function parseUrl(input: string, value: string, files = false): string {
  const accepted = files
    ? "an http:// or https:// URL such as 'https://dl.k8s.io/release', or a file:// URL of a directory on this machine such as 'file:///opt/k8s-release'"
    : "an http:// or https:// URL such as 'https://dl.k8s.io/release'"
  let url: URL
  try {
    url = new URL(value)
  } catch {
    reject(input, value, accepted)
  }
  if (files && url.protocol === 'file:') {
    // file://host/path would name another machine's share; only this machine's files are read
    if (url.hostname !== '' || url.search || url.hash || url.pathname === '/') reject(input, value, accepted)
    return value.replace(/\/+$/, '')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    reject(input, value, accepted)
  }
  if (url.username || url.password) {
    // Neither containerd's hosts.toml nor the downloads use credentials in a URL; and the
    // error must not repeat them.
    url.username = url.password = '***'
    reject(input, url.href, 'a URL without credentials (mirrors are pulled anonymously)')
  }
  // the scheme as URL reads it, lowercase ('HTTP://' is http://): every later check and every
  // consumer tells http from https, and URLs from paths, by the lowercase text
  return `${url.protocol}${value.slice(value.indexOf(':') + 1)}`.replace(/\/+$/, '')
}

/**
 * A URL the action downloads from: a checksum from the same place checks only for damage, so
 * plain http:// (which anyone on the path can rewrite, file and checksum alike) is taken only
 * for this machine itself.
 */
function parseDownloadUrl(input: string, value: string, files = false): string {
  const v = parseUrl(input, value, files)
  if (new URL(v).protocol === 'http:' && !onThisMachine(v)) {
    reject(
      input,
      value,
      `an https:// URL${files ? ', a file:// URL' : ''}, or http:// only to this machine (localhost, 127.0.0.0/8, [::1]): what is downloaded from it runs as root, and plain http:// lets anyone on the way change the file and its checksum together`
    )
  }
  return v
}

/**
 * Comma- or newline-separated lists (preload-images: image references hold no comma and no
 * '#'); blank entries and #-comments are ignored.
 */
export function parseList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((s) => s.replace(/#.*$/, '').trim())
    .filter((s) => s !== '')
}

/**
 * One entry per line, each kept whole (a path may hold ',' or '#'). Lines are trimmed; blank
 * lines and lines whose first character is '#' are ignored.
 */
export function parseLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
}

const REGISTRY_HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?$/

/** Names Docker Hub goes by; image references on any of them are docker.io's. */
const DOCKER_HUB_ALIASES = ['index.docker.io', 'registry-1.docker.io']

/** A registry's name as image references and containerd's certs.d see it: lowercase, Docker Hub as docker.io. */
export function normalizeRegistry(name: string): string {
  const lower = name.toLowerCase()
  return DOCKER_HUB_ALIASES.includes(lower) ? 'docker.io' : lower
}

/**
 * A mirror endpoint is a registry's root. Docker's daemon (moby's registry.ValidateMirror)
 * refuses a registry-mirrors URL with a query or fragment, and releases before 25.0 one with a
 * path too; a daemon.json it refuses leaves dockerd unable to reload. So neither is taken for
 * any registry, and the endpoint is kept as its origin (scheme, host, port; no trailing '/').
 */
function parseMirrorEndpoint(input: string, value: string): string {
  parseUrl(input, value)
  const url = new URL(value)
  if (url.pathname !== '/' || value.includes('?') || value.includes('#')) {
    reject(
      input,
      value,
      "an endpoint with no path, query or fragment, such as 'https://mirror.gcr.io' (Docker refuses a registry-mirrors URL with a query or fragment, and before Docker 25 with a path, and a daemon.json it refuses would leave dockerd unable to reload)"
    )
  }
  return url.origin
}

/** Runs one parse, collecting its problem; undefined when it failed. */
type Field = <T>(fn: () => T) => T | undefined

/** Each entry is parsed on its own, so that every bad entry is reported; undefined if any was. */
function eachOf<E, T>(field: Field, entries: readonly E[], fn: (entry: E) => T): T[] | undefined {
  const out = entries.map((e) => field(() => ({ ok: fn(e) })))
  return out.every((r) => r !== undefined) ? out.map((r) => r!.ok) : undefined
}

function parseMirrors(input: string, value: string, field: Field): RegistryMirror[] | undefined {
  const accepted =
    "one line per registry, 'REGISTRY=ENDPOINT[ ENDPOINT...]', such as 'docker.io=https://mirror.gcr.io'"
  // A '#' at the start of a line or after a space starts a comment; one inside an endpoint is
  // a URL fragment, and refused as such.
  const lines = value
    .split(/\r?\n/)
    .map((l) => l.replace(/(?:^|\s)#.*$/, '').trim())
    .filter((l) => l !== '')
  const parsed = eachOf(field, lines, (line) => {
    const eq = line.indexOf('=')
    if (eq <= 0) reject(input, line, accepted)
    const given = line.slice(0, eq).trim()
    if (!REGISTRY_HOST_RE.test(given)) reject(input, line, accepted)
    const tokens = line.slice(eq + 1).split(/[\s,]+/).filter((e) => e !== '')
    if (tokens.length === 0) reject(input, line, accepted)
    const endpoints = eachOf(field, tokens, (e) => parseMirrorEndpoint(input, e))
    return endpoints && { registry: normalizeRegistry(given), endpoints }
  })
  if (!parsed || parsed.some((m) => m === undefined)) return undefined
  // entries that name the same registry (docker.io and index.docker.io, say) are one
  const byRegistry = new Map<string, RegistryMirror>()
  for (const { registry, endpoints } of parsed as RegistryMirror[]) {
    const mirror = byRegistry.get(registry) ?? { registry, endpoints: [] }
    for (const e of endpoints) if (!mirror.endpoints.includes(e)) mirror.endpoints.push(e)
    byRegistry.set(registry, mirror)
  }
  return [...byRegistry.values()]
}

/**
 * registry-credentials: one `REGISTRY=USERNAME:TOKEN` line per host. Every token (and its
 * base64 `USERNAME:TOKEN`, the form that lands in files) is handed to `secret` the moment its
 * line is read, before anything else is checked, so that the log masks it even when the
 * run stops at a bad input; errors name a line by its number and registry, never its value.
 */
function parseCredentials(input: string, value: string, field: Field, secret: (s: string) => void): RegistryCredential[] | undefined {
  const lines = value
    .split(/\r?\n/)
    .map((l, i) => ({ n: i + 1, text: l.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'))
  for (const { text } of lines) {
    const eq = text.indexOf('=')
    // all after the '=' may be secret, however malformed the line
    if (eq >= 0 && text.slice(eq + 1).trim() !== '') secret(text.slice(eq + 1).trim())
    const colon = text.indexOf(':', eq + 1)
    if (eq >= 0 && colon > eq) {
      const token = text.slice(colon + 1).trim()
      if (token !== '') {
        secret(token)
        secret(Buffer.from(`${text.slice(eq + 1, colon).trim()}:${token}`).toString('base64'))
      }
    }
  }
  const bad = (n: number, registry: string, why: string): never => {
    const which = registry && REGISTRY_HOST_RE.test(registry) ? ` (registry ${registry})` : ''
    throw new Problem(`Input '${input}' line ${n}${which} is not valid: ${why} (its value is not repeated here, as it may hold a secret); accepted: ${CREDENTIALS_FORM}.`)
  }
  const parsed = eachOf(field, lines, ({ n, text }) => {
    const eq = text.indexOf('=')
    if (eq < 0) bad(n, '', "it has no '='")
    const given = text.slice(0, eq).trim()
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given)) bad(n, '', 'REGISTRY is a URL; write its host[:port] only')
    if (!REGISTRY_HOST_RE.test(given)) bad(n, '', 'REGISTRY is not a host[:port]')
    const rest = text.slice(eq + 1).trim()
    const colon = rest.indexOf(':')
    if (colon < 0) bad(n, given, "it has no ':' between USERNAME and TOKEN")
    const username = rest.slice(0, colon).trim()
    const token = rest.slice(colon + 1).trim()
    if (username === '') bad(n, given, 'USERNAME is empty')
    if (token === '') bad(n, given, 'TOKEN is empty')
    // eslint-disable-next-line no-control-regex
    if (/[\s\x00-\x1f\x7f]/.test(username + token)) bad(n, given, 'USERNAME or TOKEN holds a space or a control character')
    const registry = normalizeRegistry(given)
    return {
      n,
      registry,
      username,
      password: new Secret(token, `<registry-credentials: token for ${registry}>`),
      basic: new Secret(Buffer.from(`${username}:${token}`).toString('base64'), `<registry-credentials: base64 of ${username}:TOKEN for ${registry}>`)
    }
  })
  if (!parsed) return undefined
  return eachOf(field, parsed, ({ n, ...c }) => {
    const first = parsed.find((o) => o.registry === c.registry)!
    if (first.n !== n) bad(n, c.registry, `line ${first.n} already names ${c.registry} (index.docker.io and registry-1.docker.io are docker.io)`)
    return c
  })
}

function parseImage(input: string, value: string): string {
  if (!isImageReference(value)) {
    reject(input, value, IMAGE_FORMS)
  }
  return normalizeImage(value)
}

/**
 * A load-images entry: an image in the host's Docker, by name and tag. `docker save` writes a
 * digest reference's image without a name (its manifest.json has no RepoTags), so containerd
 * would import it nameless, and no pod could ask for it.
 */
function parseLoadImage(input: string, value: string): string {
  const accepted = "the name of an image in this host's Docker, with a tag or without one (':latest'), such as 'my-app:ci' or 'ghcr.io/org/app:1.2'; not a digest (docker save keeps names, not digests)"
  if (!isImageReference(value) || value.includes('@')) reject(input, value, accepted)
  return normalizeImage(value)
}

/**
 * image-retags: one `SOURCE=TARGET` line per image; '#' starts a comment (image references
 * hold none). Both sides are read as preload-images reads an image. A TARGET is a name the
 * cluster asks for, so it takes a tag, not a digest; each TARGET is made once, and is no
 * other line's SOURCE (tags are applied in order, after every pull, so a chain would depend
 * on the order of the lines).
 */
function parseRetags(input: string, value: string, field: Field): ImageRetag[] | undefined {
  const lines = value
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '')
  const parsed = eachOf(field, lines, (line) => {
    const parts = line.split('=')
    if (parts.length !== 2) reject(input, line, RETAG_FORM)
    const [source, target] = parts.map((p) => p.trim())
    if (!isImageReference(source) || !isImageReference(target)) reject(input, line, RETAG_FORM)
    if (target.includes('@')) reject(input, line, `a TARGET with a tag, not a digest (it is the name the cluster asks for); ${RETAG_FORM}`)
    const retag = { source: normalizeImage(source), target: normalizeImage(target), line }
    if (retag.source === retag.target) reject(input, line, `a TARGET other than its SOURCE; ${RETAG_FORM}`)
    return retag
  })
  if (!parsed) return undefined
  return eachOf(field, parsed, (r) => {
    const first = parsed.find((o) => o.target === r.target)!
    if (first !== r) reject(input, r.line, `each TARGET on one line only (${r.target} is also made by ${JSON.stringify(first.line)})`)
    const feeds = parsed.find((o) => o.source === r.target)
    if (feeds) reject(input, r.line, `a TARGET that is no other line's SOURCE (${r.target} is the SOURCE of ${JSON.stringify(feeds.line)}); retag from the first SOURCE directly`)
    return { source: r.source, target: r.target }
  })
}

/**
 * A local path as given (relative paths are read from the working directory). No shell reads
 * it, so '~' would not be expanded; a NUL byte cannot be in a path. `option`: the path is
 * handed to tar and ctr as an argument, where a leading '-' would be read as an option.
 */
function parsePath(input: string, value: string, what: string, option: boolean): string {
  if (value.includes('\0')) reject(input, value.replace(/\0/g, '\\0'), `${what} with no NUL byte`)
  if (option && value.startsWith('-')) {
    reject(input, value, `${what} not beginning with '-' (tar and ctr would read it as an option); write './${value}' for a file of that name`)
  }
  if (value.startsWith('~')) reject(input, value, `${what} not beginning with '~' (no shell expands it); write the full path, e.g. from \${{ runner.temp }}`)
  return value
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/

/** An http(s) URL, or else a local path; any other scheme is refused rather than read as a path. */
function parseUrlOrPath(input: string, value: string): string {
  const accepted = "an http:// or https:// URL, or a local path, such as '/tmp/kube-flannel.yml'; a local file whose name has a ':' before any '/' is written './NAME'"
  const scheme = SCHEME_RE.exec(value)?.[1].toLowerCase()
  if (scheme === undefined) return parsePath(input, value, 'a local path to the manifest', false)
  if (scheme !== 'http' && scheme !== 'https') reject(input, value, accepted)
  // the plug-ins tell URLs from paths by a lowercase 'http(s)://'
  return parseDownloadUrl(input, `${scheme}${value.slice(scheme.length)}`)
}

function parseCniVersion(value: string): CniVersionSpec {
  if (value === '') return { kind: 'pinned' }
  if (value === 'latest') return { kind: 'latest' }
  const m = /^v?(\d+\.\d+\.\d+)$/.exec(value)
  if (!m || !semver.valid(m[1])) reject('cni-version', value, CNI_VERSION_FORMS)
  return { kind: 'exact', version: `v${m[1]}` }
}

/**
 * kubeadm-config: a path (one line, read before the plan is built: src/config/input-files.ts)
 * or inline YAML, whose documents are read here. Kept untrimmed at the start, where YAML
 * indentation matters. Whether the documents fit the version and the other inputs is asked
 * once both are known (src/render/kubeadm-check.ts).
 */
function parseKubeadmConfig(value: string, field: Field, problems: string[]): KubeadmConfigInput | undefined {
  const v = value.trim()
  if (v === '') return undefined
  if (looksLikePath(v)) {
    const path = field(() => parsePath('kubeadm-config', v, 'a path to a YAML file (or YAML itself, over several lines)', false))
    return path === undefined ? undefined : { path }
  }
  const read = parseKubeadmDocuments(value.trimEnd(), "Input 'kubeadm-config'")
  problems.push(...read.problems)
  return { patches: read.patches }
}

function parseMirrorPreset(value: string): MirrorPresetName | undefined {
  if (value === '') return undefined
  if ((MIRROR_PRESET_NAMES as string[]).includes(value)) return value as MirrorPresetName
  reject('mirror-preset', value, MIRROR_PRESET_FORMS)
}

/** One sentence: what the preset set, and which of its inputs the user's own value kept. */
function presetNote(name: MirrorPresetName, given: (input: InputName) => string): string {
  const entries = Object.entries(MIRROR_PRESETS[name].inputs) as Array<[InputName, string]>
  const set = entries.filter(([input]) => given(input) === '').map(([input, v]) => `${input} ${v.split('\n').join(', ')}`)
  const kept = entries.filter(([input]) => given(input) !== '').map(([input]) => input)
  return `Input 'mirror-preset' is '${name}': it sets ${set.length ? set.join('; ') : 'nothing'}${kept.length ? `; your own ${kept.join(', ')} ${kept.length === 1 ? 'is' : 'are'} kept` : ''}.`
}

/**
 * Parses and validates every input. Throws InputError listing each bad input with its value
 * and the accepted forms (every bad entry of a list, too). Values come back normalised (a CIDR
 * as its network, a mirror's registry lowercase with Docker Hub as docker.io, its endpoints as
 * origins); what the caller should tell the user about that is in `notes`. `o.secret` is
 * given every secret value (registry-credentials' tokens) before anything else is parsed: the
 * action registers each with core.setSecret so the log masks it. A mirror-preset
 * fills in only the inputs left empty, before their defaults. Reads no file:
 * whether the paths exist is src/config/input-files.ts's question.
 */
export function parseInputs(get: InputGetter, o: { secret?: (value: string) => void } = {}): Config {
  const problems: string[] = []
  const notes: string[] = []
  const field: Field = <T>(fn: () => T): T | undefined => {
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
  const given = (name: InputName): string => get(name).trim()
  // First of all, so that its secrets are masked before any other input is even read.
  const registryCredentials = parseCredentials('registry-credentials', given('registry-credentials'), field, o.secret ?? (() => {}))
  // First the preset, which fills in the inputs left empty: what the user set always wins.
  const mirrorPreset = field(() => parseMirrorPreset(given('mirror-preset')))
  // The user's value, else the preset's, else the table's default; `fallback` is what the code
  // picks for an input whose table default is '' because it depends on another input.
  const read = (name: InputName, fallback = inputSpec(name).default): string => {
    const v = given(name)
    return v !== '' ? v : (presetValue(mirrorPreset, name) ?? fallback)
  }
  const choice = <T extends string>(name: InputName): T | undefined => field(() => parseChoice<T>(name, read(name), inputSpec(name).values as readonly T[]))
  if (mirrorPreset) notes.push(presetNote(mirrorPreset, given))

  const kubernetesVersion = field(() => parseVersionSpec(read('kubernetes-version')))
  const containerRuntime = choice<Runtime>('container-runtime')
  const cni = choice<Cni>('cni')
  const cniManifestRaw = read('cni-manifest')
  const cniManifest = cniManifestRaw === '' ? undefined : field(() => parseUrlOrPath('cni-manifest', cniManifestRaw))
  if (cni !== undefined && cniManifestRaw !== '' && !CNIS[cni].release) {
    // the manifest would be read, checked, and never applied
    problems.push(
      `Inputs 'cni' ('${cni}') and 'cni-manifest' (${JSON.stringify(cniManifestRaw)}) do not go together: with cni '${cni}' the action applies no manifest; accepted: cni-manifest with a CNI installed from a manifest (${Object.entries(CNIS).filter(([, p]) => p.release).map(([n]) => `'${n}'`).join(', ')}), or cni '${cni}' and no cni-manifest (apply your own manifest after the action).`
    )
  }
  const cniVersionRaw = read('cni-version')
  const cniVersion = field(() => {
    const spec = parseCniVersion(cniVersionRaw)
    if (spec.kind === 'pinned' || cni === undefined) return spec
    if (!CNIS[cni].release) reject('cni-version', cniVersionRaw, `'' with cni '${cni}', which installs no release`)
    if (cniManifestRaw !== '') {
      reject('cni-version', cniVersionRaw, "'' when cni-manifest is set (the manifest given replaces the release's; name its version in the manifest itself)")
    }
    return spec
  })
  const podCidr = field(() => parseCidr('pod-network-cidr', read('pod-network-cidr'), notes))
  const serviceCidr = field(() => parseCidr('service-cidr', read('service-cidr'), notes))
  if (podCidr && serviceCidr && cidrsOverlap(podCidr, serviceCidr)) {
    const shown = (name: string, c: Cidr): string =>
      `${c.given}${c.network !== c.given ? `, network ${c.network}` : ''}${get(name).trim() === '' ? ', the default' : ''}`
    problems.push(
      `Inputs 'pod-network-cidr' (${shown('pod-network-cidr', podCidr)}) and 'service-cidr' (${shown('service-cidr', serviceCidr)}) overlap: an address in both would be a pod's and a Service's; accepted: two disjoint IPv4 networks, such as the defaults ${DEFAULTS.podNetworkCidr} and ${DEFAULTS.serviceCidr}.`
    )
  }
  // load-balancer's pool: its form, and the two networks every input knows; the host's own
  // networks are the add-on's question at plan time (src/addons/load-balancer)
  const loadBalancer = field(() => parseBool('load-balancer', read('load-balancer')))
  const poolRaw = read('load-balancer-addresses')
  const loadBalancerAddresses = poolRaw === '' ? undefined : field(() => parsePool('load-balancer-addresses', poolRaw, { 'pod-network-cidr': podCidr?.network, 'service-cidr': serviceCidr?.network }, notes))
  if (loadBalancer === false && poolRaw !== '') {
    problems.push(
      `Inputs 'load-balancer-addresses' (${JSON.stringify(poolRaw)}) and 'load-balancer' ('${read('load-balancer')}') do not go together: the addresses are only given out by the load balancer; accepted: load-balancer 'true' with load-balancer-addresses, or load-balancer-addresses left out.`
    )
  }
  const imageRepository = field(() => {
    const v = read('image-repository', DEFAULTS.imageRepository).replace(/\/+$/, '')
    if (!isImageRepository(v)) {
      reject('image-repository', v, "a registry with an optional path and no tag, such as 'registry.k8s.io' or 'registry.aliyuncs.com/google_containers'")
    }
    return v
  })
  const registryMirrors = parseMirrors('registry-mirrors', read('registry-mirrors'), field)
  const preloadImages = eachOf(field, parseList(read('preload-images')), (i) => parseImage('preload-images', i))
  const imageArchives = eachOf(field, parseLines(read('image-archives')), (p) =>
    parsePath('image-archives', p, 'one path per line to an image tarball (docker save or OCI archive)', true)
  )
  const loadImages = eachOf(field, parseList(read('load-images')), (i) => parseLoadImage('load-images', i))
  const imageRetags = parseRetags('image-retags', read('image-retags'), field)
  const localRegistry = field(() => parseLocalRegistry(read('local-registry')))
  const untaint = field(() => parseBool('untaint', read('untaint')))
  const fastStart = field(() => parseBool('fast-start', read('fast-start')))
  const kubeadmConfig = parseKubeadmConfig(get('kubeadm-config'), field, problems)
  // bootstrap tokens and a certificate key given inline are masked like registry-credentials
  for (const s of kubeadmSecrets(kubeadmConfig?.patches ?? [])) o.secret?.(s)
  const featureGates = parseFeatureGates(read('feature-gates'))
  problems.push(...featureGates.problems)
  // smoke-test's default depends on the CNI: a CNI that gives pods no network has nothing to test
  const carriesPods = cni === undefined || CNIS[cni].carriesPods
  const smokeTest = field(() => parseBool('smoke-test', read('smoke-test', String(carriesPods))))
  if (smokeTest === false && !carriesPods && given('smoke-test') === '') {
    notes.push(`smoke-test skipped: with cni '${cni}' no pod network exists for nginx until you install one.`)
  }
  if (smokeTest && !carriesPods) {
    problems.push(
      `Inputs 'smoke-test' ('${given('smoke-test')}') and 'cni' ('${cni}') do not go together: with cni '${cni}' no pod network exists for the smoke test's pod; accepted: smoke-test left out or 'false' with cni '${cni}', or a CNI that carries pods.`
    )
  }
  const smokeTestImage = field(() => parseImage('smoke-test-image', read('smoke-test-image')))
  const timeoutSeconds = field(() => parseDuration('timeout', read('timeout')))
  const kubernetesReleaseUrl = field(() => parseDownloadUrl('kubernetes-release-url', read('kubernetes-release-url', DEFAULTS.kubernetesReleaseUrl), true))
  const githubUrl = field(() => parseDownloadUrl('github-url', read('github-url', DEFAULTS.githubUrl), true))
  const offline = field(() => parseBool('offline', read('offline')))
  if (offline && kubernetesVersion && kubernetesVersion.kind !== 'exact') {
    // a 'stable' or minor version is a lookup over the network, before any check could run
    problems.push(
      `Input 'kubernetes-version' has the value ${JSON.stringify(read('kubernetes-version'))}, which is looked up over the network, and 'offline' is true; accepted with offline: an exact release such as 'v1.34.2'.`
    )
  }
  if (offline && cniVersion && cniVersion.kind !== 'pinned') {
    // 'latest' is a lookup over the network; another release's images are known only from its
    // manifest, so the preflight could not check them against image-archives
    problems.push(
      `Input 'cni-version' has the value ${JSON.stringify(cniVersionRaw)}, and 'offline' is true; accepted with offline: '' (the release the action pins, whose images are known before the run), or cni-manifest with a local copy of the manifest you want.`
    )
  }
  // what the runtime cannot serve together with other inputs, in its own words (src/runtimes/*/)
  if (containerRuntime !== undefined && loadImages !== undefined && registryCredentials !== undefined) {
    problems.push(...RUNTIMES[containerRuntime].inputProblems({ loadImages, registryCredentials }))
  }
  // The token is never repeated in an error, only whether it is there.
  // action.yml's default is an expression only a runner fills in (the job's token); none here is none
  const githubToken = read('github-token', '')
  if (cniVersion?.kind === 'latest' && githubToken === '') {
    problems.push(
      "Input 'github-token' is empty, but cni-version 'latest' looks the release up with GitHub's API, which limits anonymous callers to 60 requests an hour per address (shared by every job on a hosted runner's address); accepted: a token, such as the default ${{ github.token }} (the job's own; on the command line, $GITHUB_TOKEN), or an exact cni-version such as 'v3.32.2', which needs no lookup."
    )
  }
  // off by default: on a hosted runner a restore is no faster than fetching (bench:cache, README's Performance)
  const cache = field(() => parseBool('cache', read('cache', 'false')))
  if (cache && offline) {
    problems.push(
      `Inputs 'cache' ('${given('cache')}') and 'offline' ('${given('offline')}') do not go together: the cache is restored from and saved to a service on the network, and offline fetches nothing; accepted: cache left out or 'false' with offline 'true'.`
    )
  }
  const cleanup = field(() => parseCleanup(read('cleanup')))
  const diagnosticsArtifact = choice<DiagnosticsArtifact>('diagnostics-artifact')
  const onExisting = field(() => {
    const v = read('on-existing')
    if (!(ON_EXISTING_VALUES as readonly string[]).includes(v)) reject('on-existing', v, ON_EXISTING_FORMS)
    return v as OnExisting
  })
  const dryRun = field(() => parseBool('dry-run', read('dry-run')))
  const planDirRaw = read('plan-dir')

  if (problems.length > 0) throw new InputError(problems)
  return {
    kubernetesVersion: kubernetesVersion!,
    containerRuntime: containerRuntime!,
    cni: cni!,
    cniManifest,
    cniVersion: cniVersion!,
    podNetworkCidr: podCidr!.network,
    serviceCidr: serviceCidr!.network,
    loadBalancer: loadBalancer!,
    loadBalancerAddresses,
    mirrorPreset,
    imageRepository: imageRepository!,
    registryMirrors: registryMirrors!,
    registryCredentials: registryCredentials!,
    preloadImages: preloadImages!,
    imageArchives: imageArchives!,
    loadImages: loadImages!,
    imageRetags: imageRetags!,
    localRegistry: localRegistry === false ? undefined : localRegistry,
    untaint: untaint!,
    fastStart: fastStart!,
    kubeadmConfig,
    featureGates: featureGates.gates,
    smokeTest: smokeTest!,
    smokeTestImage: smokeTestImage!,
    timeoutSeconds: timeoutSeconds!,
    kubernetesReleaseUrl: kubernetesReleaseUrl!,
    githubUrl: githubUrl!,
    githubToken,
    cache: cache!,
    offline: offline!,
    cleanup: cleanup!,
    diagnosticsArtifact: diagnosticsArtifact!,
    onExisting: onExisting!,
    dryRun: dryRun!,
    planDir: planDirRaw === '' ? undefined : planDirRaw,
    notes
  }
}

/**
 * Every secret value the inputs hold, as the main step masked them (registry-credentials'
 * tokens and their base64 forms, kubeadm-config's inline tokens, github-token): what the
 * diagnostics archive is redacted of, as an artifact is never masked. Read even where another
 * input is bad: the secrets are handed over before anything else is parsed.
 */
export function inputSecrets(get: InputGetter): string[] {
  const out: string[] = []
  try {
    parseInputs(get, { secret: (s) => out.push(s) })
  } catch {
    // what was handed over before the problem is all there is
  }
  const token = get('github-token').trim()
  if (token !== '') out.push(token)
  return out
}
