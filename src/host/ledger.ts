// The ledger of host changes: before the action changes anything on the host it records
// what was there, and the record is saved at once (Actions state, or a file for the command
// line). Cleanup replays it backwards and touches nothing it does not name. The doers that
// write these records, and the undo of each, are in host.ts.

export type Change =
  /** a file the action wrote; `backup` holds the original (`cp -a`), absent when there was none */
  | { kind: 'file'; path: string; backup?: string }
  /** a directory that did not exist: removed with everything in it */
  | { kind: 'dir'; path: string }
  /** `systemctl enable`; `was` is what `is-enabled` said before */
  | { kind: 'unit-enabled'; unit: string; was: string; wasActive: boolean }
  | { kind: 'unit-restarted'; unit: string; wasActive: boolean }
  | { kind: 'unit-reloaded'; unit: string }
  | { kind: 'units-reloaded' }
  | { kind: 'swap-off'; devices: string[] }
  /** live values before `sysctl -p` */
  | { kind: 'sysctl'; values: Record<string, string> }
  /** left in place: unloading a module another user may rely on is not safe */
  | { kind: 'modules-loaded'; modules: string[] }
  /** left in place: removing packages can take what the host relied on with them; recorded once installed */
  | { kind: 'packages-installed'; packages: string[] }
  /** a network interface that did not exist (a CNI's bridge) */
  | { kind: 'interface'; name: string }
  /** a mount point that was not one (a filesystem a CNI's pod mounts on the host and leaves) */
  | { kind: 'mount'; path: string }
  /** a command whose effect only another command undoes (kubeadm init: kubeadm reset) */
  | { kind: 'command'; what: string; undo: string[][] }

export class Ledger {
  private readonly list: Change[] = []
  private readonly touched = new Set<string>()

  /** `saved` is called with the whole ledger after every record, before the change is made. */
  constructor(private readonly saved: (changes: readonly Change[]) => void = () => {}) {}

  get changes(): readonly Change[] {
    return this.list
  }

  record(change: Change): void {
    this.list.push(change)
    this.saved(this.list)
  }

  /** True the first time a path is claimed: only the first change to a path records what was there. */
  claim(path: string): boolean {
    if (this.touched.has(path)) return false
    this.touched.add(path)
    return true
  }
}

/** One line per change, for logs and the post step's report. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'file':
      return c.backup ? `${c.path} (changed; original kept at ${c.backup})` : `${c.path} (created)`
    case 'dir':
      return `${c.path}/ (created)`
    case 'unit-enabled':
      return `${c.unit} enabled (was ${c.was})`
    case 'unit-restarted':
      return `${c.unit} restarted`
    case 'unit-reloaded':
      return `${c.unit} reloaded`
    case 'units-reloaded':
      return 'systemd units reloaded'
    case 'swap-off':
      return `swap off (${c.devices.join(', ')})`
    case 'sysctl':
      return `sysctl ${Object.entries(c.values).map(([k, v]) => `${k} (was ${v})`).join(', ')}`
    case 'modules-loaded':
      return `kernel modules loaded: ${c.modules.join(', ')}`
    case 'packages-installed':
      return `packages installed: ${c.packages.join(', ')}`
    case 'interface':
      return `network interface ${c.name} (created)`
    case 'mount':
      return `${c.path} (mounted)`
    case 'command':
      return c.what
  }
}
