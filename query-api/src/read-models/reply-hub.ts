/**
 * The assistant's replies as they stream (contract: platform/src/reply-stream.ts), for the event
 * streams of query-api: one subscription per conversation someone listens to, on the instance's
 * subscriber connection, and the stream's entries after a given id for a client that resumes.
 * After the subscriber reconnects, every listener is told to read from the stream again (entries
 * announced meanwhile were lost).
 */
import type { Redis } from '@parley/platform/redis';
import {
  decodeLiveReply,
  decodeReplyEvent,
  type ReplyEvent,
  replyChannel,
  replyStreamKey,
} from '@parley/platform/reply-stream';

export interface ReplyEntry {
  readonly id: string;
  readonly event: ReplyEvent;
}

/** Called with each entry as it is announced, or undefined after a resubscription. */
export type ReplyListener = (entry: ReplyEntry | undefined) => void;

/** Most entries a resume reads from the stream at once. */
const READ_LIMIT = 5_000;

export class ReplyHub {
  private readonly listeners = new Map<string, Set<ReplyListener>>();

  constructor(
    private readonly subscriber: Redis,
    private readonly reader: Redis,
    private readonly namespace: string,
  ) {
    const prefix = replyChannel(namespace, '');
    subscriber.on('message', (channel: string, message: string) => {
      if (!channel.startsWith(prefix)) return;
      const entry = decodeLiveReply(message);
      const set = this.listeners.get(channel.slice(prefix.length));
      if (entry && set) for (const listener of [...set]) listener(entry);
    });
    subscriber.on('ready', () => {
      const channels = [...this.listeners.keys()].map((id) => replyChannel(namespace, id));
      if (channels.length === 0) return;
      this.subscriber.subscribe(...channels).then(
        () => {
          for (const set of this.listeners.values())
            for (const listener of set) listener(undefined);
        },
        () => {},
      );
    });
  }

  /** Listens to one conversation's replies; resolves once subscribed. */
  async listen(conversationId: string, listener: ReplyListener): Promise<() => void> {
    let set = this.listeners.get(conversationId);
    if (!set) {
      set = new Set();
      this.listeners.set(conversationId, set);
      await this.subscriber.subscribe(replyChannel(this.namespace, conversationId));
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(conversationId) === set) {
        this.listeners.delete(conversationId);
        this.subscriber.unsubscribe(replyChannel(this.namespace, conversationId)).catch(() => {});
      }
    };
  }

  /** The stream's entries after `afterId` (all when undefined), oldest first. */
  async since(conversationId: string, afterId: string | undefined): Promise<ReplyEntry[]> {
    const rows = (await this.reader.xrange(
      replyStreamKey(this.namespace, conversationId),
      afterId ? `(${afterId}` : '-',
      '+',
      'COUNT',
      READ_LIMIT,
    )) as Array<[string, string[]]>;
    return rows.flatMap(([id, fields]) => {
      const json = fields[fields.indexOf('e') + 1];
      const event = json === undefined ? undefined : decodeReplyEvent(json);
      return event ? [{ id, event }] : [];
    });
  }
}

/** A stream id compared with another: `<ms>-<seq>`, numerically. */
export function entryAfter(id: string, other: string | undefined): boolean {
  if (!other) return true;
  const [a = '0', b = '0'] = id.split('-');
  const [c = '0', d = '0'] = other.split('-');
  return BigInt(a) > BigInt(c) || (BigInt(a) === BigInt(c) && BigInt(b) > BigInt(d));
}
