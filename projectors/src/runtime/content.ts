/**
 * What people wrote (conversation titles, messages, replies) as a projection may write it: only
 * into the owner's own read models, decrypted with their data key, and never once the owner was
 * erased. Events written since ADR 0023 carry it encrypted; older ones in plain text, which is
 * shown only while its owner is not erased. One batch costs one query for the keys it needs and
 * one for which of its owners were erased (a key cached in memory does not hide an erasure).
 */
import type { EncryptedText } from '@parley/schemas/generated/records';
import type { ProjectedEvent, Stores } from './projection.ts';

/** An event's title: in plain text (before ADR 0023) or encrypted. */
export interface Titled {
  title: string;
  encryptedTitle: EncryptedText | null;
}
/** An event's message text: in plain text (before ADR 0023) or encrypted. */
export interface Written {
  text: string;
  encryptedText: EncryptedText | null;
}

export interface BatchContent {
  /** Whether the owner was erased: nothing of theirs is written, conversations are tombstones. */
  erased(ownerId: string): boolean;
  /** The title in clear, or null once its owner was erased (or its key is gone, or it is empty). */
  title(value: Titled, ownerId: string): string | null;
  /** The text in clear, or null once its owner was erased (or its key is gone). */
  text(value: Written, ownerId: string): string | null;
}

/**
 * The batch's content from what was decrypted (`opened`, by the encrypted value) and which owners
 * were erased. Pure: the specs build it from plain-text events.
 */
export function batchContent(
  opened: ReadonlyMap<EncryptedText, string | undefined>,
  erased: ReadonlySet<string>,
): BatchContent {
  const clear = (encrypted: EncryptedText | null, plain: string, ownerId: string) => {
    if (erased.has(ownerId)) return null;
    if (encrypted) return opened.get(encrypted) ?? null;
    return plain;
  };
  return {
    erased: (ownerId) => erased.has(ownerId),
    title: (value, ownerId) => clear(value.encryptedTitle, value.title, ownerId) || null,
    text: (value, ownerId) => clear(value.encryptedText, value.text, ownerId),
  };
}

/** The encrypted content a chat event carries. */
export function contentSealedIn(event: ProjectedEvent): EncryptedText | null {
  switch (event.type) {
    case 'ConversationStarted':
    case 'ConversationRenamed':
      return event.value.encryptedTitle;
    case 'UserMessagePosted':
    case 'AssistantReplyRecorded':
      return event.value.encryptedText;
    default:
      return null;
  }
}

/** The personal data an identity event carries, encrypted (email and name). */
export function personalDataIn(event: ProjectedEvent): EncryptedText[] {
  switch (event.type) {
    case 'UserRegistered':
      return [event.value.email, event.value.displayName];
    case 'UserProfileUpdated':
      return event.value.displayName ? [event.value.displayName] : [];
    default:
      return [];
  }
}

/** Decrypts, in one round trip for the keys, these values; a value whose key is gone is undefined. */
export async function openSealed(
  stores: Stores,
  sealed: ReadonlyArray<EncryptedText | null>,
): Promise<Map<EncryptedText, string | undefined>> {
  const values = sealed.filter((v): v is EncryptedText => v !== null);
  await stores.cipher.prepare(values);
  const opened = new Map<EncryptedText, string | undefined>();
  for (const value of values) opened.set(value, await stores.cipher.decrypt(value));
  return opened;
}
