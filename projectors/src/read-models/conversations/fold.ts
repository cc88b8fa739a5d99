/**
 * The conversations read model's fold: chat events over a conversation's document, and the
 * message documents they add. Pure; the writer (projection.ts) loads and writes. A deleted
 * conversation keeps a tombstone (id, owner, status, version) so a replay cannot bring it back;
 * an erased owner's conversations become `erased` tombstones with no text.
 */
import {
  type ConversationDoc,
  type MessageDoc,
  PREVIEW_LENGTH,
} from '@parley/platform/read-models';
import type { BatchContent } from '../../runtime/content.ts';
import type { ProjectedChatEvent, ProjectedEvent } from '../../runtime/projection.ts';
import { isChatEvent } from '../../runtime/projection.ts';

/** What is left of an erased owner's conversation: no title, no messages, no preview. */
export function erasedTombstone(doc: ConversationDoc, version: number): ConversationDoc {
  return {
    _id: doc._id,
    ownerId: doc.ownerId,
    status: 'erased',
    messageCount: 0,
    lastMessage: null,
    lastActivityAt: doc.createdAt,
    createdAt: doc.createdAt,
    version,
  };
}

/** One event over the document; the message it adds, if any, goes to `newMessages`. */
export function evolveConversation(
  doc: ConversationDoc | undefined,
  event: ProjectedChatEvent,
  newMessages: MessageDoc[],
  content: BatchContent,
): ConversationDoc | undefined {
  const { metadata } = event.value;
  const at = new Date(metadata.occurredAt);
  if (event.type === 'ConversationStarted') {
    const { ownerId } = event.value;
    const title = content.title(event.value, ownerId);
    const started: ConversationDoc = {
      _id: metadata.aggregateId,
      ownerId,
      ...(title ? { title } : {}),
      status: 'active',
      messageCount: 0,
      lastMessage: null,
      lastActivityAt: at,
      createdAt: at,
      version: metadata.aggregateVersion,
    };
    return content.erased(ownerId) ? erasedTombstone(started, started.version) : started;
  }
  if (!doc) return undefined;
  // Nothing of an erased owner is written again; the tombstone follows the versions.
  if (doc.status === 'erased' || content.erased(doc.ownerId)) {
    return erasedTombstone(doc, metadata.aggregateVersion);
  }
  const next: ConversationDoc = { ...doc, version: metadata.aggregateVersion };
  const message = (
    id: string,
    role: MessageDoc['role'],
    text: string | null,
    extra: Partial<MessageDoc>,
  ) => {
    newMessages.push({
      _id: id,
      conversationId: doc._id,
      ownerId: doc.ownerId,
      role,
      text,
      at,
      seq: metadata.aggregateVersion,
      ...extra,
    });
    next.messageCount += 1;
    next.lastActivityAt = at;
    next.lastMessage =
      text === null ? next.lastMessage : { role, preview: text.slice(0, PREVIEW_LENGTH), at };
  };
  switch (event.type) {
    case 'ConversationRenamed': {
      const title = content.title(event.value, doc.ownerId);
      return title === null ? next : { ...next, title };
    }
    case 'UserMessagePosted':
      message(event.value.messageId, 'user', content.text(event.value, doc.ownerId), {});
      return next;
    case 'AssistantReplyRecorded':
      message(event.value.messageId, 'assistant', content.text(event.value, doc.ownerId), {
        replyTo: event.value.replyTo,
        outcome: event.value.finishReason === 'stopped' ? 'stopped' : 'finished',
      });
      return next;
    case 'AssistantReplyFailed':
      // A failure has no message id of its own: the event's id names it.
      message(metadata.eventId, 'assistant', null, {
        replyTo: event.value.replyTo,
        outcome: 'failed',
        failed: event.value.reason,
      });
      return next;
    case 'ConversationArchived':
      return { ...next, status: 'archived' };
    case 'ConversationDeleted':
      // A tombstone: no title, no preview, nothing personal.
      return {
        _id: doc._id,
        ownerId: doc.ownerId,
        status: 'deleted',
        messageCount: 0,
        lastMessage: null,
        lastActivityAt: at,
        createdAt: doc.createdAt,
        version: metadata.aggregateVersion,
      };
    case 'ReplyRegenerationRequested':
    case 'ReplyStopRequested':
      return next;
  }
}

/** A batch folded over the documents it touches. */
export interface FoldedConversations {
  /** Every touched conversation as it ends, by id (loaded ones the batch left alone included). */
  current: Map<string, ConversationDoc>;
  newMessages: MessageDoc[];
  /** The conversations whose messages go: deleted, or their owner erased. */
  deleted: Set<string>;
}

/** The batch's chat events over the loaded documents; events a document reflects are skipped. */
export function foldConversations(
  loaded: ReadonlyMap<string, ConversationDoc>,
  events: readonly ProjectedEvent[],
  content: BatchContent,
): FoldedConversations {
  const current = new Map(loaded);
  const newMessages: MessageDoc[] = [];
  const deleted = new Set<string>();
  for (const event of events) {
    if (!isChatEvent(event)) continue;
    const id = event.value.metadata.aggregateId;
    const doc = current.get(id);
    if (doc && event.value.metadata.aggregateVersion <= doc.version) continue;
    const next = evolveConversation(doc, event, newMessages, content);
    if (!next) continue;
    current.set(id, next);
    if (next.status === 'deleted' || next.status === 'erased') deleted.add(id);
  }
  return { current, newMessages, deleted };
}

/** The owners a batch's conversations belong to (loaded, or started in the batch). */
export function ownersOf(
  loaded: ReadonlyMap<string, ConversationDoc>,
  events: readonly ProjectedEvent[],
): string[] {
  const owners = new Set([...loaded.values()].map((d) => d.ownerId));
  for (const e of events) if (e.type === 'ConversationStarted') owners.add(e.value.ownerId);
  return [...owners];
}

/** The writes a folded batch needs, in the order the writer makes them. */
export interface ConversationWrites {
  /** New messages, except those of conversations that are gone. */
  messageInserts: MessageDoc[];
  /** Conversations whose messages are deleted. */
  messagesDeleted: string[];
  conversationInserts: ConversationDoc[];
  /** Replacements guarded by the version the document was loaded at. */
  conversationReplaces: Array<{ doc: ConversationDoc; loadedVersion: number }>;
}

export function writesOf(
  loaded: ReadonlyMap<string, ConversationDoc>,
  { current, newMessages, deleted }: FoldedConversations,
): ConversationWrites {
  const writes: ConversationWrites = {
    messageInserts: newMessages.filter((m) => !deleted.has(m.conversationId)),
    messagesDeleted: [...deleted],
    conversationInserts: [],
    conversationReplaces: [],
  };
  for (const doc of current.values()) {
    const before = loaded.get(doc._id);
    if (!before) writes.conversationInserts.push(doc);
    else if (before.version !== doc.version) {
      writes.conversationReplaces.push({ doc, loadedVersion: before.version });
    }
  }
  return writes;
}
