/**
 * The pure mappings from the read models' database rows and documents to their Redis views
 * (shapes in platform/src/read-models.ts), so a view filled from a database equals the one the
 * views projection would have written at that version.
 */
import {
  type ConversationDoc,
  type ConversationView,
  isGone,
  LATEST_MESSAGES,
  type MessageDoc,
  type MeView,
  type UserRow,
  type Versioned,
} from '@parley/platform/read-models';

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
  if (isGone(doc)) return { version: doc.version, data: null };
  const messages = [...latest]
    .sort((a, b) => a.seq - b.seq)
    .slice(-LATEST_MESSAGES)
    .map((m) => ({
      id: m._id,
      role: m.role,
      text: m.text,
      at: m.at.getTime(),
      ...(m.replyTo ? { replyTo: m.replyTo } : {}),
      ...(m.outcome ? { outcome: m.outcome } : {}),
    }));
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
      lastMessage: doc.lastMessage
        ? {
            role: doc.lastMessage.role,
            preview: doc.lastMessage.preview,
            at: doc.lastMessage.at.getTime(),
          }
        : null,
      messages,
    },
  };
}

/**
 * The MongoDB projection writes a conversation's new messages before the conversation: between
 * the two, the collection has messages newer than the document's version. A read must fill the
 * view only when the latest messages are exactly the document's (the views projection would go
 * on from the filled view).
 */
export function messagesComplete(doc: ConversationDoc, latest: readonly MessageDoc[]): boolean {
  if (isGone(doc) || doc.messageCount === 0) return true;
  const newest = latest.reduce<MessageDoc | undefined>(
    (found, m) => (!found || m.seq > found.seq ? m : found),
    undefined,
  );
  // Only a message moves lastActivityAt, so the newest message must carry it.
  return (
    newest !== undefined &&
    latest.length === Math.min(doc.messageCount, LATEST_MESSAGES) &&
    newest.seq <= doc.version &&
    newest.at.getTime() === doc.lastActivityAt.getTime()
  );
}
