/**
 * The shapes of the read models query-api reads, as the projectors write them
 * (projectors/src/projections/{views,users,conversations,usage-daily}.ts), and the pure mappings
 * from the database rows to the Redis views, so a view filled from a database equals the one the
 * views projection would have written at that version.
 */

/** A Redis view: {version, data}; data null is a tombstone (a deleted conversation). */
export interface Versioned<T> {
  readonly version: number;
  readonly data: T | null;
}

export interface MeView {
  userId: string;
  email: string | null;
  displayName: string | null;
  role: string;
  status: string;
  locale: string | null;
}

export interface ViewMessage {
  id: string;
  role: 'user' | 'assistant';
  text: string | null;
  at: number;
}

export interface ConversationView {
  id: string;
  ownerId: string;
  title: string | null;
  status: string;
  messageCount: number;
  createdAt: number;
  lastActivityAt: number;
  messages: ViewMessage[];
}

/** How many messages the conversation view keeps (LATEST_MESSAGES in the views projection). */
export const VIEW_MESSAGES = 20;

/** Characters of the last message shown in a list item. */
export const PREVIEW_LENGTH = 120;

export interface UserRow {
  user_id: string;
  email: string | null;
  display_name: string | null;
  role: string;
  status: string;
  locale: string | null;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export interface ConversationDoc {
  _id: string;
  ownerId: string;
  title?: string;
  status: 'active' | 'archived' | 'deleted';
  messageCount: number;
  lastMessage?: { role: 'user' | 'assistant'; preview: string; at: Date } | null;
  lastActivityAt: Date;
  createdAt: Date;
  version: number;
}

export interface MessageDoc {
  _id: string;
  conversationId: string;
  ownerId: string;
  role: 'user' | 'assistant';
  text: string | null;
  at: Date;
  /** The conversation's version after this message: the order messages are paged in. */
  seq: number;
  replyTo?: string;
  failed?: string;
}

export function meViewOf(row: UserRow): Versioned<MeView> {
  return {
    version: row.version,
    data: {
      userId: row.user_id,
      email: row.email,
      displayName: row.display_name,
      role: row.role,
      status: row.status,
      locale: row.locale,
    },
  };
}

/** The conversation view from its document and its latest messages (any order). */
export function conversationViewOf(
  doc: ConversationDoc,
  latest: readonly MessageDoc[],
): Versioned<ConversationView> {
  if (doc.status === 'deleted') return { version: doc.version, data: null };
  const messages = [...latest]
    .sort((a, b) => a.seq - b.seq)
    .slice(-VIEW_MESSAGES)
    .map((m) => ({ id: m._id, role: m.role, text: m.text, at: m.at.getTime() }));
  return {
    version: doc.version,
    data: {
      id: doc._id,
      ownerId: doc.ownerId,
      title: doc.title ?? null,
      status: doc.status,
      messageCount: doc.messageCount,
      createdAt: doc.createdAt.getTime(),
      lastActivityAt: doc.lastActivityAt.getTime(),
      messages,
    },
  };
}

/**
 * The MongoDB projection writes a conversation before its new messages: between the two, the
 * document counts messages the collection does not have yet. Such a read must not fill the view
 * (the views projection would go on from a view missing messages).
 */
export function messagesComplete(doc: ConversationDoc, latest: readonly MessageDoc[]): boolean {
  if (doc.status === 'deleted' || doc.messageCount === 0) return true;
  const newest = latest.reduce<MessageDoc | undefined>(
    (found, m) => (!found || m.seq > found.seq ? m : found),
    undefined,
  );
  // Only a message moves lastActivityAt, so the newest message must carry it.
  return (
    newest !== undefined &&
    latest.length === Math.min(doc.messageCount, VIEW_MESSAGES) &&
    newest.seq <= doc.version &&
    newest.at.getTime() === doc.lastActivityAt.getTime()
  );
}
