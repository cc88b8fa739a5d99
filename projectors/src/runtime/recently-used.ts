/**
 * What a projection process keeps between batches so that the next batch need not read it back:
 * a bounded map, least recently remembered first out (a Map keeps insertion order, so
 * remembering a key again moves it to the end).
 */
export class RecentlyUsed<T> {
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
