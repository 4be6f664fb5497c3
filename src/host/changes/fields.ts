// Reading a recorded change back: every field typed, every path checked against the roots
// the action writes to (paths.ts), no field the kind does not know. Each kind's `parse`
// reads its own fields through this, so the schema of a kind lives with the kind.
import { posix } from 'node:path'

export class LedgerSchemaError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LedgerSchemaError'
  }
}

/** Whether `path` is absolute, normal (no `.`, `..`, `//` or trailing slash) and at or under one of `roots`. */
export function underRoots(path: string, roots: readonly string[]): boolean {
  if (!path.startsWith('/') || posix.normalize(path) !== path || path.length > 1 && path.endsWith('/')) return false
  return roots.some((r) => path === r || path.startsWith(`${r}/`))
}

/**
 * A unit name systemd accepts: letters, digits and `:-_.\@`, with a type suffix or none; never
 * a leading `-`, which systemctl would read as an option (`-Hroot@host` runs ssh).
 */
const UNIT = /^(?!-)[A-Za-z0-9:_.\\@-]{1,200}$/

export class Fields {
  private readonly seen = new Set<string>(['kind'])

  constructor(
    private readonly o: Record<string, unknown>,
    /** names the change in messages: "change 3 (file)" */
    private readonly where: string,
    private readonly roots: readonly string[],
    /** every path read, for the caller's check of symbolic links on the way */
    private readonly named: string[] = [],
    /** the backup directory (root's 0700), where every original or kept file must lie */
    private readonly backupDir?: string
  ) {}

  refuse(key: string, what: string): never {
    throw new LedgerSchemaError(`${this.where}: field '${key}' ${what}`)
  }

  private get(key: string): unknown {
    this.seen.add(key)
    return this.o[key]
  }

  string(key: string, re: RegExp, accepted: string): string {
    const v = this.get(key)
    if (typeof v !== 'string' || !re.test(v)) this.refuse(key, `is ${JSON.stringify(v)}; accepted: ${accepted}`)
    return v
  }

  unit(key: string): string {
    return this.string(key, UNIT, 'a systemd unit name')
  }

  bool(key: string): boolean {
    const v = this.get(key)
    if (typeof v !== 'boolean') this.refuse(key, `is ${JSON.stringify(v)}; accepted: true or false`)
    return v
  }

  path(key: string): string {
    const v = this.get(key)
    return this.checkPath(key, v)
  }

  optionalPath(key: string): string | undefined {
    return this.o[key] === undefined ? (this.seen.add(key), undefined) : this.path(key)
  }

  /**
   * A file the action kept in its backup directory (an original, a file for a reload): root
   * copies it over a host file at undo, so it must be one only root could have put there,
   * never a path under a user's ~/.kube or ~/.docker, which the roots also hold.
   */
  kept(key: string): string {
    const v = this.path(key)
    if (this.backupDir !== undefined && !underRoots(v, [this.backupDir])) this.refuse(key, `names ${JSON.stringify(v)}, which is not in the action's backup directory ${this.backupDir}`)
    return v
  }

  optionalKept(key: string): string | undefined {
    return this.o[key] === undefined ? (this.seen.add(key), undefined) : this.kept(key)
  }

  private checkPath(key: string, v: unknown): string {
    if (typeof v !== 'string' || !underRoots(v, this.roots)) {
      this.refuse(key, `names ${JSON.stringify(v)}, which is not a normal absolute path under the places the action writes to (${this.roots.join(', ')})`)
    }
    this.named.push(v)
    return v
  }

  strings(key: string, re: RegExp, accepted: string): string[] {
    const v = this.get(key)
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && re.test(x))) this.refuse(key, `is ${JSON.stringify(v)}; accepted: a list of ${accepted}`)
    return v as string[]
  }

  paths(key: string): string[] {
    const v = this.get(key)
    if (!Array.isArray(v)) this.refuse(key, `is ${JSON.stringify(v)}; accepted: a list of paths`)
    return v.map((x) => this.checkPath(key, x))
  }

  /** an object of string values, each key and value matching */
  map(key: string, keyRe: RegExp, valueRe: RegExp, accepted: string): Record<string, string> {
    const v = this.get(key)
    const ok = typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, x]) => keyRe.test(k) && typeof x === 'string' && valueRe.test(x))
    if (!ok) this.refuse(key, `is ${JSON.stringify(v)}; accepted: ${accepted}`)
    return { ...(v as Record<string, string>) }
  }

  /** The record, once every field was read: a field the kind does not know is refused. */
  done<C>(c: C): C {
    const extra = Object.keys(this.o).filter((k) => !this.seen.has(k))
    if (extra.length > 0) throw new LedgerSchemaError(`${this.where}: unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')}`)
    return c
  }
}
