// Secrets out of what the diagnostics archive keeps. The log masks a secret the runner was
// told of (core.setSecret); an artifact is a download nobody masks, so the archive is
// redacted before it is packed, twice over:
// - by key: in the configuration files the action wrote, the value of every key that holds a
//   credential (a bootstrap token, a certificate key, a registry password, Docker's base64
//   `auth`, a kubeconfig's client key) is replaced, whatever the file's syntax (YAML, TOML,
//   JSON), and every PEM private key block is dropped;
// - by value: every secret the inputs hold (what the main step masked) and every value the
//   keys above held, with the base64 forms that land in files, is replaced in every file of
//   the archive (journals, pod logs, the ledger), wherever it appears.

export const REDACTED = '<redacted>'

// A key that names a credential, as the files the action writes spell them: kubeadm's
// `token` and `certificateKey`, containerd's `password`/`auth`/`identitytoken`, Docker's
// `auth`, the credential provider's `password`, a kubeconfig's `token` and `client-key-data`.
const KEY = String.raw`[A-Za-z0-9_.-]*?(?:token|password|passwd|secret|auth|certificateKey|certificate-key|client-key-data|identitytoken|registrytoken)`
// `- token: x`, `token = "x"`, `"password": "x",`: the key, its separator, the value, what follows
const LINE = new RegExp(String.raw`^(\s*(?:-\s+)?["']?)(${KEY})(["']?\s*[:=]\s*)(.*?)(\s*,?\s*)$`, 'i')
// the same in JSON written on one line
const PAIR = new RegExp(String.raw`("${KEY}"\s*:\s*)"((?:[^"\\]|\\.)*)"`, 'gi')
const PEM = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g

/** Not a secret, though its key says so: a nested map or list, a boolean, a number, nothing. */
const notAValue = (v: string): boolean => v === '' || v === REDACTED || /^[[{|>]/.test(v) || /^(true|false|null|~|\d+)$/i.test(v)

const unquote = (v: string): string => v.replace(/^(["'])(.*)\1$/, '$2')

/**
 * A configuration file with every credential key's value replaced, and the values it held
 * (with what a base64 `USERNAME:TOKEN` decodes to: the token), for the pass by value.
 */
export function redactConfig(text: string): { text: string; found: string[] } {
  const found: string[] = []
  const keep = (value: string): void => {
    found.push(value)
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64').toString('utf8') : ''
    // Docker's auth: base64 of USERNAME:TOKEN
    const colon = decoded.indexOf(':')
    if (colon > 0 && /^[\x20-\x7e]+$/.test(decoded)) found.push(decoded.slice(colon + 1))
  }
  const inline = text.replace(PEM, `${REDACTED} private key`).replace(PAIR, (all, key: string, value: string) => {
    if (notAValue(value)) return all
    keep(value)
    return `${key}"${REDACTED}"`
  })
  const out = inline.split('\n').map((line) => {
    const m = LINE.exec(line)
    if (!m) return line
    const value = unquote(m[4].trim())
    if (notAValue(value)) return line
    keep(value)
    const quote = /^["']/.test(m[4].trim()) ? m[4].trim()[0] : ''
    return `${m[1]}${m[2]}${m[3]}${quote}${REDACTED}${quote}${m[5]}`
  })
  return { text: out.join('\n'), found }
}

/**
 * Every secret's forms to look for: the value, its base64, and base64 of `USERNAME:` + it is
 * already among the values (the inputs hand over the basic form). Short values are left out
 * of the pass by value where they come from a key, as they would replace ordinary words.
 */
export function secretForms(known: readonly string[], found: readonly string[]): string[] {
  const forms = new Set<string>()
  for (const s of known) if (s.length >= 4) forms.add(s)
  for (const s of found) if (s.length >= 8) forms.add(s)
  for (const s of [...forms]) forms.add(Buffer.from(s).toString('base64'))
  // the longest first: a secret that holds another is replaced whole
  return [...forms].sort((a, b) => b.length - a.length)
}

/** `text` with every form replaced. */
export function redactValues(text: string, forms: readonly string[]): string {
  let out = text.replace(PEM, `${REDACTED} private key`)
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED)
  return out
}
