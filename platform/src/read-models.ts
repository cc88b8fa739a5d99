/**
 * The read models' shapes, shared by the side that writes them (projectors) and the side that
 * reads them (query-api): PostgreSQL rows, MongoDB documents and Redis views. One definition, so
 * a view the query API fills from a database is the one the views projection would have written.
 */

/** A Redis view: {version, data}; data null is a tombstone (a deleted conversation). */
export interface Versioned<T> {
  readonly version: number;
  readonly data: T | null;
}

/** How many messages the conversation view keeps. */
export const LATEST_MESSAGES = 20;

/** Characters of the last message kept as a conversation's preview. */
export const PREVIEW_LENGTH = 120;

export interface MeView {
  userId: string;
  email: string | null;
  displayName: string | null;
  role: string;
  status: string;
  locale: string | null;
}

/** How an assistant reply ended: written to the end, stopped by the user, or failed (no text). */
export type ReplyOutcome = 'finished' | 'stopped' | 'failed';

/** What an assistant reply carries besides its text: the message it answers and how it ended. */
export interface ReplyOf {
  replyTo?: string;
  outcome?: ReplyOutcome;
}

export interface ViewMessage extends ReplyOf {
  id: string;
  role: 'user' | 'assistant';
  text: string | null;
  at: number;
}

/** The last message with text, as a list shows it (a failed reply has none). */
export interface LastMessage {
  role: 'user' | 'assistant';
  preview: string;
  at: number;
}

/** A conversation without its messages: what a list of conversations reads. */
export interface ConversationHead {
  id: string;
  ownerId: string;
  title: string | null;
  status: string;
  messageCount: number;
  createdAt: number;
  lastActivityAt: number;
  lastMessage: LastMessage | null;
}

export interface ConversationView extends ConversationHead {
  /** The latest messages, oldest first, at most LATEST_MESSAGES. */
  messages: ViewMessage[];
}

/** A row of `read.users_g<n>`. */
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

/** A document of `conversations_g<n>`. */
export interface ConversationDoc {
  _id: string;
  ownerId: string;
  title?: string;
  /** `erased`: its owner was erased; a tombstone with no text, like `deleted`. */
  status: 'active' | 'archived' | 'deleted' | 'erased';
  messageCount: number;
  lastMessage?: { role: 'user' | 'assistant'; preview: string; at: Date } | null;
  lastActivityAt: Date;
  createdAt: Date;
  version: number;
}

/** A conversation that is gone for its reader: deleted, or its owner erased. */
export const isGone = (doc: { status: string }) =>
  doc.status === 'deleted' || doc.status === 'erased';

/** A document of `messages_g<n>`. */
export interface MessageDoc extends ReplyOf {
  _id: string;
  conversationId: string;
  ownerId: string;
  role: 'user' | 'assistant';
  text: string | null;
  at: Date;
  /** The conversation's version after this message: a stable, gap-free order for paging. */
  seq: number;
  /** Why a failed reply failed. */
  failed?: string;
}
