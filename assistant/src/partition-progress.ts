/**
 * Which offset of a partition may be committed while its events are worked on out of order (each
 * conversation at its own pace): the first offset not done yet, or, when everything handed out is
 * done, the end of the last batch (past any transaction markers). Pure.
 */
export class PartitionProgress {
  /** Offsets handed out and not done, and done ones not yet passed by the commit point, in order. */
  private readonly entries: Array<{ offset: number; done: boolean }> = [];
  /** One past the last offset of the batches seen (commit markers included). */
  private end = -1;

  /** An event handed out to be worked on. */
  add(offset: number): void {
    this.entries.push({ offset, done: false });
  }

  /** A batch seen up to `lastOffset` (its last record, maybe a transaction marker). */
  seen(lastOffset: number): void {
    this.end = Math.max(this.end, lastOffset + 1);
  }

  done(offset: number): void {
    const entry = this.entries.find((e) => e.offset === offset);
    if (entry) entry.done = true;
    while (this.entries[0]?.done) this.entries.shift();
  }

  /** Events handed out and not done. */
  get working(): number {
    return this.entries.filter((e) => !e.done).length;
  }

  /** The offset to commit: everything before it is done. Undefined before any batch. */
  commitPoint(): number | undefined {
    const first = this.entries[0];
    if (first) return first.offset;
    return this.end < 0 ? undefined : this.end;
  }
}
