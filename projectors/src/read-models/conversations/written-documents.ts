/**
 * What a projection process last wrote, by key, so the next batch need not read it back: a
 * bounded map, least recently used first out. Entries are trusted only through an optimistic
 * write (the store's filter names the version the entry has): a write that matches nothing means
 * someone else wrote the document (a partition that moved and came back, a replay), so the
 * entries are forgotten and the batch retried from the store (ConcurrentWriteError).
 */
export class WrittenDocuments<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly capacity: number) {}

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  remember(key: string, value: T) {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(keys: Iterable<string>) {
    for (const key of keys) this.entries.delete(key);
  }
}

/** An optimistic write found the stored document changed by someone else: retry the batch. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}
