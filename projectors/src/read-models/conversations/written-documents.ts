import { RecentlyUsed } from '../../runtime/recently-used.ts';

/**
 * What a projection process last wrote, by key, so the next batch need not read it back.
 * Entries are trusted only through an optimistic write (the store's filter names the version the
 * entry has): a write that matches nothing means someone else wrote the document (a partition
 * that moved and came back, a replay), so the entries are forgotten and the batch retried from
 * the store (ConcurrentWriteError).
 */
export class WrittenDocuments<T> extends RecentlyUsed<T> {}

/** An optimistic write found the stored document changed by someone else: retry the batch. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}
