/**
 * What people wrote (conversation titles, messages, replies) as a projection may write it: only
 * into the owner's own read models, decrypted with their data key, and never once the owner was
 * erased. Events written since ADR 0023 carry it encrypted; older ones in plain text, which is
 * shown only while its owner is not erased. One batch costs one query for the keys it needs and
 * one for which of its owners were erased (a key cached in memory does not hide an erasure).
 */
import type { EncryptedText } from '@parley/platform/personal-data';
import type { ProjectedEvent, Stores } from './projection.ts';

/** The plain field and its encrypted twin, as the chat events name them. */
const FIELDS = [
  ['title', 'encryptedTitle'],
  ['text', 'encryptedText'],
] as const;

export interface BatchContent {
  /** Whether the owner was erased: nothing of theirs is written, conversations are tombstones. */
  erased(ownerId: string): boolean;
  /** The event's title or text in clear, or null once its owner was erased (or its key is gone). */
  of(event: ProjectedEvent, ownerId: string, field: 'title' | 'text'): string | null;
}

const isEncrypted = (value: unknown): value is EncryptedText =>
  typeof value === 'object' && value !== null && 'keyId' in value && 'ciphertext' in value;

/** Decrypts what a batch's events carry, for these owners. */
export async function openContent(
  stores: Stores,
  events: readonly ProjectedEvent[],
  owners: readonly string[],
): Promise<BatchContent> {
  const sealed = events.flatMap((e) =>
    FIELDS.flatMap(([, encrypted]) =>
      isEncrypted(e.value[encrypted]) ? [e.value[encrypted]] : [],
    ),
  );
  await stores.cipher.prepare(sealed);
  const opened = new Map<EncryptedText, string | undefined>();
  for (const value of sealed) opened.set(value, await stores.cipher.decrypt(value));
  const erased = await stores.cipher.erasedAmong(owners);
  return {
    erased: (ownerId) => erased.has(ownerId),
    of(event, ownerId, field) {
      if (erased.has(ownerId)) return null;
      const encrypted = event.value[field === 'title' ? 'encryptedTitle' : 'encryptedText'];
      if (isEncrypted(encrypted)) return opened.get(encrypted) ?? null;
      const plain = event.value[field];
      return typeof plain === 'string' ? plain : null;
    },
  };
}
