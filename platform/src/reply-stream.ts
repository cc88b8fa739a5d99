/**
 * The assistant's replies as they stream: written by the assistant reactor, read by query-api
 * (Server-Sent Events). The contract both sides share:
 * - one Redis stream per conversation, `parley:<namespace>assistant:replies:<conversationId>`,
 *   each entry one field `e` holding a ReplyEvent as JSON; capped at REPLY_STREAM_MAX_ENTRIES and
 *   deleted REPLY_STREAM_TTL_SECONDS after its last entry (the recorded reply is the lasting copy);
 * - after each entry, one PUBLISH on `parley:<namespace>assistant:live:<conversationId>` of
 *   `{"id": <entry id>, "event": <ReplyEvent>}`, so readers wake up without polling. A reader that
 *   lost its connection resumes with XRANGE after the last entry id it sent: a message is a hint,
 *   the stream is the truth.
 */

export const REPLY_STREAM_MAX_ENTRIES = 2_000;
export const REPLY_STREAM_TTL_SECONDS = 15 * 60;

export type ReplyEvent =
  | { type: 'reply-started'; replyId: string; replyTo: string; attempt: number }
  | { type: 'reply-delta'; replyId: string; text: string }
  | {
      type: 'reply-finished';
      replyId: string;
      finishReason: string;
      usage: { inputTokens: number; outputTokens: number };
    }
  | { type: 'reply-stopped'; replyId: string }
  | { type: 'reply-failed'; replyId: string; reason: string };

export type ReplyEventType = ReplyEvent['type'];

/** The events that end a reply: after one of them no delta of that reply comes. */
export const TERMINAL_REPLY_EVENTS: readonly ReplyEventType[] = [
  'reply-finished',
  'reply-stopped',
  'reply-failed',
];

export const replyStreamKey = (namespace: string, conversationId: string) =>
  `parley:${namespace}assistant:replies:${conversationId}`;

export const replyChannel = (namespace: string, conversationId: string) =>
  `parley:${namespace}assistant:live:${conversationId}`;

/** A Redis stream entry id, `<ms>-<seq>`. */
export const STREAM_ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

export const encodeReplyEvent = (event: ReplyEvent): string => JSON.stringify(event);

const isString = (v: unknown): v is string => typeof v === 'string';

/** The event, or undefined for anything that is not one (ignored, never thrown). */
export function decodeReplyEvent(json: string): ReplyEvent | undefined {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || !isString(value.replyId)) return undefined;
  switch (value.type) {
    case 'reply-started':
      return isString(value.replyTo) && Number.isInteger(value.attempt)
        ? (value as ReplyEvent)
        : undefined;
    case 'reply-delta':
      return isString(value.text) ? (value as ReplyEvent) : undefined;
    case 'reply-finished':
      return isString(value.finishReason) && typeof value.usage === 'object'
        ? (value as ReplyEvent)
        : undefined;
    case 'reply-stopped':
      return value as ReplyEvent;
    case 'reply-failed':
      return isString(value.reason) ? (value as ReplyEvent) : undefined;
    default:
      return undefined;
  }
}

/** A live message: the entry id and its event, or undefined. */
export function decodeLiveReply(message: string): { id: string; event: ReplyEvent } | undefined {
  try {
    const { id, event } = JSON.parse(message) as { id?: unknown; event?: unknown };
    if (!isString(id) || !STREAM_ENTRY_ID.test(id)) return undefined;
    const decoded = decodeReplyEvent(JSON.stringify(event));
    return decoded ? { id, event: decoded } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The owner stopped a reply: command-api sets `parley:<namespace>assistant:stop:<messageId>`
 * (kept STOP_KEEP_SECONDS) and publishes the message id on `parley:<namespace>assistant:stop`.
 * The reactor writing that reply aborts it; one that has not started it yet finds the key.
 */
export const STOP_KEEP_SECONDS = 3_600;
export const stopChannel = (namespace: string) => `parley:${namespace}assistant:stop`;
export const stopKey = (namespace: string, messageId: string) =>
  `parley:${namespace}assistant:stop:${messageId}`;
