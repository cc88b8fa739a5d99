/**
 * How each Redis view is laid out in its hash; the views projection writes it, the query API reads
 * it and fills it from a database:
 * - every view: `version`, and `data` (JSON) unless it is a tombstone (version only);
 * - a conversation: `data` is its head (no messages), and each of its latest messages is a field
 *   of its own, `m<n>` (n counts the conversation's messages from 0). A new message is one field
 *   written, and neither the head nor the other messages are parsed or serialised again; a
 *   message's field is deleted once it falls out of the latest LATEST_MESSAGES.
 * A conversation written before this layout (its messages inside `data`, no lastMessage) reads
 * the same, and its next write stores it in this one.
 */
import {
  type ConversationHead,
  type ConversationView,
  LATEST_MESSAGES,
  type LastMessage,
  type MeView,
  PREVIEW_LENGTH,
  type Versioned,
  type ViewMessage,
} from './read-models.ts';

export const messageField = (n: number) => `m${n}`;
const MESSAGE_FIELD = /^m(\d+)$/;

/** A view as a hash holds it: `data`, and the fields stored beside it (name, value pairs). */
export interface StoredView {
  data: string;
  fields: string[];
}

export interface ViewLayout<T> {
  /** A view from every field of its hash (HGETALL); undefined when there is none. */
  fromHash(hash: Readonly<Record<string, string>>): Versioned<T> | undefined;
  /** The view's data as it is stored. */
  toHash(data: T): StoredView;
}

/** The last message with text among these (newest first), or `before` when none has. */
export function lastMessageOf(
  messages: readonly ViewMessage[],
  before: LastMessage | null,
): LastMessage | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.text !== null)
      return { role: m.role, preview: m.text.slice(0, PREVIEW_LENGTH), at: m.at };
  }
  return before;
}

/** A conversation's stored `data`: its head, and the messages it held in the earlier layout. */
export function conversationHeadOf(data: string): {
  head: ConversationHead;
  messages: ViewMessage[];
} {
  const { messages = [], ...head } = JSON.parse(data) as ConversationHead & {
    messages?: ViewMessage[];
  };
  return {
    head: { ...head, lastMessage: head.lastMessage ?? lastMessageOf(messages, null) },
    messages,
  };
}

/** Plain views: `data` is the whole view. */
export function jsonLayout<T>(): ViewLayout<T> {
  return {
    fromHash: (hash) =>
      hash.version === undefined
        ? undefined
        : { version: Number(hash.version), data: hash.data ? (JSON.parse(hash.data) as T) : null },
    toHash: (data) => ({ data: JSON.stringify(data), fields: [] }),
  };
}

export const meLayout: ViewLayout<MeView> = jsonLayout<MeView>();

export const conversationLayout: ViewLayout<ConversationView> = {
  fromHash(hash) {
    if (hash.version === undefined) return undefined;
    const version = Number(hash.version);
    if (!hash.data) return { version, data: null };
    const { head, messages } = conversationHeadOf(hash.data);
    const stored: Array<[number, ViewMessage]> = [];
    for (const [field, value] of Object.entries(hash)) {
      const n = MESSAGE_FIELD.exec(field)?.[1];
      if (n !== undefined) stored.push([Number(n), JSON.parse(value) as ViewMessage]);
    }
    stored.sort((a, b) => a[0] - b[0]);
    const latest = [...messages, ...stored.map(([, m]) => m)].slice(-LATEST_MESSAGES);
    return { version, data: { ...head, messages: latest } };
  },
  /** The messages given are the newest ones; each is numbered from the conversation's count. */
  toHash(view) {
    const { messages, ...head } = view;
    const first = view.messageCount - messages.length;
    return {
      data: JSON.stringify(head),
      fields: messages.flatMap((m, i) => [messageField(first + i), JSON.stringify(m)]),
    };
  },
};
