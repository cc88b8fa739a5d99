/**
 * Writes a reply as it streams to the conversation's Redis stream and announces each entry
 * (contract: platform/src/reply-stream.ts): one round trip per entry (XADD, EXPIRE and PUBLISH in
 * one script). Deltas are gathered for FLUSH_MS after the first, so a fast model does not cost
 * a Redis entry per token, while the first token of a reply goes out at once.
 */
import type { Redis } from '@parley/platform/redis';
import {
  encodeReplyEvent,
  REPLY_STREAM_MAX_ENTRIES,
  REPLY_STREAM_TTL_SECONDS,
  type ReplyEvent,
  replyChannel,
  replyStreamKey,
} from '@parley/platform/reply-stream';

const FLUSH_MS = 100;

/** KEYS[1] stream, KEYS[2] channel; ARGV max entries, event JSON, seconds kept. */
const APPEND = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], '{"id":"' .. id .. '","event":' .. ARGV[2] .. '}')
return id`;

/** The script as a command of the connection: ioredis sends its hash (EVALSHA), the text once. */
type WithAppend = Redis & {
  appendReplyEvent(...args: string[]): Promise<string>;
};

export class ReplyWriter {
  private readonly redis: WithAppend;

  constructor(
    redis: Redis,
    private readonly namespace: string,
  ) {
    redis.defineCommand('appendReplyEvent', { numberOfKeys: 2, lua: APPEND });
    this.redis = redis as WithAppend;
  }

  append(conversationId: string, event: ReplyEvent): Promise<string> {
    return this.redis.appendReplyEvent(
      replyStreamKey(this.namespace, conversationId),
      replyChannel(this.namespace, conversationId),
      String(REPLY_STREAM_MAX_ENTRIES),
      encodeReplyEvent(event),
      String(REPLY_STREAM_TTL_SECONDS),
    );
  }

  /**
   * The deltas of one reply, gathered: `push` each, `flush` at the end; after `before`. The writes
   * go on in the background: a failed one (Redis down) fails those after it and the final `flush`,
   * and is never an unhandled rejection, which would end the process.
   */
  deltas(conversationId: string, replyId: string, before: Promise<unknown> = Promise.resolve()) {
    let pending = '';
    let timer: NodeJS.Timeout | undefined;
    let sent = false;
    const handled = <T>(promise: Promise<T>) => {
      promise.catch(() => undefined);
      return promise;
    };
    let writing: Promise<unknown> = handled(before);
    // Not async: its promise is `writing` itself, already handled, never a new one to reject.
    const flush = (): Promise<unknown> => {
      clearTimeout(timer);
      timer = undefined;
      if (!pending) return writing;
      const text = pending;
      pending = '';
      writing = handled(
        writing.then(() => this.append(conversationId, { type: 'reply-delta', replyId, text })),
      );
      return writing;
    };
    return {
      push: (text: string) => {
        pending += text;
        if (!sent) {
          sent = true;
          void flush();
        } else if (!timer) {
          timer = setTimeout(() => void flush(), FLUSH_MS);
        }
      },
      flush: () => flush(),
    };
  }
}
