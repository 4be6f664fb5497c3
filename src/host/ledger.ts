// The ledger of host changes: before the action changes anything on the host it records
// what was there, and the record is saved at once (Actions state, and the host's file).
// Cleanup replays it backwards and touches nothing it does not name. The ledger holds data
// only: each kind of change (changes/, one module per kind) turns its own records into
// commands; no command text is ever stored.
import type { Change } from './changes/index.js'

export type { Change } from './changes/index.js'
export { describeChange } from './changes/index.js'

export class Ledger {
  private readonly list: Change[] = []
  private readonly touched = new Set<string>()
  private saving: Promise<unknown> = Promise.resolve()

  /**
   * `saved` is called with each change and its index, in the order they were recorded; the
   * promise `record` returns settles once it is saved, and the change is made only then.
   */
  constructor(private readonly saved: (change: Change, index: number) => void | Promise<void> = () => {}) {}

  get changes(): readonly Change[] {
    return this.list
  }

  record(change: Change): Promise<void> {
    const index = this.list.push(change) - 1
    const mine = this.saving.then(() => this.saved(change, index))
    this.saving = mine.catch(() => {})
    return mine
  }

  /** True the first time a path is claimed: only the first change to a path records what was there. */
  claim(path: string): boolean {
    if (this.touched.has(path)) return false
    this.touched.add(path)
    return true
  }
}
