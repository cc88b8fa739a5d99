/**
 * Pure page building for conversations and messages: list items from views or documents, keyset
 * order of the list, and the newest page of messages merged from MongoDB (paged by seq) and the
 * conversation view (current, but without seq). A message the view has and MongoDB does not yet
 * (its projection trails a moment) is shown at the top with `seq: null`; cursors only ever come
 * from messages with a seq, so the next pages neither repeat nor skip one.
 */
import type {
  ConversationDoc,
  ConversationHead,
  ConversationView,
  MessageDoc,
  ReplyOf,
  ViewMessage,
} from '@parley/platform/read-models';
import type { ListEntry } from '../read-models/view-store.ts';

export interface ListItem {
  id: string;
  title: string | null;
  status: string;
  messageCount: number;
  createdAt: string;
  lastActivityAt: string;
  lastMessage: { role: 'user' | 'assistant'; preview: string; at: string } | null;
  version: number;
}

export interface ApiMessage extends ReplyOf {
  id: string;
  seq: number | null;
  role: 'user' | 'assistant';
  text: string | null;
  at: string;
}

/** The reply fields a message has, and none it has not. */
const replyOf = (m: ReplyOf): ReplyOf => ({
  ...(m.replyTo ? { replyTo: m.replyTo } : {}),
  ...(m.outcome ? { outcome: m.outcome } : {}),
});

const iso = (ms: number) => new Date(ms).toISOString();

/** What a list item and a whole conversation show alike, from a view. */
function summaryFromView(view: ConversationHead) {
  return {
    id: view.id,
    title: view.title,
    status: view.status,
    messageCount: view.messageCount,
    createdAt: iso(view.createdAt),
    lastActivityAt: iso(view.lastActivityAt),
  };
}

export function listItemFromView(view: ConversationHead, version: number): ListItem {
  const last = view.lastMessage;
  return {
    ...summaryFromView(view),
    lastMessage: last ? { role: last.role, preview: last.preview, at: iso(last.at) } : null,
    version,
  };
}

/** One conversation as `GET /v1/conversations/{id}` answers it: the view with its latest messages. */
export function conversationFromView(view: ConversationView, version: number) {
  return {
    ...summaryFromView(view),
    version,
    messages: view.messages.map((m) => ({ ...m, at: iso(m.at) })),
  };
}

export function listItemFromDoc(doc: ConversationDoc): ListItem {
  return {
    id: doc._id,
    title: doc.title ?? null,
    status: doc.status,
    messageCount: doc.messageCount,
    createdAt: doc.createdAt.toISOString(),
    lastActivityAt: doc.lastActivityAt.toISOString(),
    lastMessage: doc.lastMessage
      ? {
          role: doc.lastMessage.role,
          preview: doc.lastMessage.preview,
          at: doc.lastMessage.at.toISOString(),
        }
      : null,
    version: doc.version,
  };
}

/** Keyset order of a list: higher score first, then higher id (as ZREVRANGEBYSCORE orders ties). */
export function isAfter(entry: ListEntry, cursor: ListEntry): boolean {
  return entry.score < cursor.score || (entry.score === cursor.score && entry.id < cursor.id);
}

export const fromDoc = (m: MessageDoc): ApiMessage => ({
  id: m._id,
  seq: m.seq,
  role: m.role,
  text: m.text,
  at: m.at.toISOString(),
  ...replyOf(m),
});

const fromView = (m: ViewMessage): ApiMessage => ({
  id: m.id,
  seq: null,
  role: m.role,
  text: m.text,
  at: iso(m.at),
  ...replyOf(m),
});

/**
 * The newest page: `stored` is MongoDB's newest `limit + 1` (seq descending), `view` the
 * conversation view's latest messages (oldest first). Newest first; `more` when older remain.
 */
export function newestMessages(
  stored: readonly MessageDoc[],
  view: readonly ViewMessage[],
  limit: number,
): { items: ApiMessage[]; more: boolean; olderThan: number | undefined } {
  const known = new Set(stored.map((m) => m._id));
  const newer: ViewMessage[] = [];
  for (let i = view.length - 1; i >= 0; i--) {
    const message = view[i];
    if (!message || known.has(message.id)) break;
    newer.push(message);
  }
  const all = [...newer.map(fromView), ...stored.map(fromDoc)];
  const items = all.slice(0, limit);
  const oldestWithSeq = [...items].reverse().find((m) => m.seq !== null)?.seq ?? undefined;
  const newestStored = stored[0]?.seq;
  return {
    items,
    more: all.length > limit,
    // Without a stored message on the page, the next page starts below every stored one.
    olderThan: oldestWithSeq ?? (newestStored === undefined ? undefined : newestStored + 1),
  };
}

/** Messages of `view` after the one with id `lastId` (all of them when it is undefined). */
export function viewMessagesAfter(
  view: readonly ViewMessage[],
  lastId: string | undefined,
): ViewMessage[] | undefined {
  if (lastId === undefined) return [...view];
  const at = view.findIndex((m) => m.id === lastId);
  return at === -1 ? undefined : view.slice(at + 1);
}

export const apiMessageOfView = fromView;
