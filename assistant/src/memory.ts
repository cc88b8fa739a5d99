/**
 * The assistant's own memory of each conversation, kept in Redis from the events it consumes:
 * who owns it, whether it has a title, and its turns as they were recorded (encrypted under the
 * owner's key, so an erasure makes them unreadable here too). The turns are keyed by the event's
 * version, so a redelivered event writes the same field again. Kept MEMORY_DAYS after the last
 * event; the last MEMORY_TURNS turns only (more than any prompt budget takes).
 */
import type { EncryptedText } from '@parley/platform/personal-data';
import type { Redis } from '@parley/platform/redis';

export const MEMORY_TURNS = 200;
const MEMORY_SECONDS = 30 * 86_400;

/** A turn as kept: the text encrypted (or in plain text, from events written before ADR 0023). */
export interface StoredTurn {
  readonly role: 'user' | 'assistant';
  /** The user message's id; for a reply, the message it answers. */
  readonly messageId: string;
  readonly encrypted: EncryptedText | null;
  readonly plain: string;
}

interface Wire {
  role: 'user' | 'assistant';
  messageId: string;
  plain: string;
  encrypted: { keyId: string; nonce: string; ciphertext: string } | null;
}

const toWire = (turn: StoredTurn): string =>
  JSON.stringify({
    role: turn.role,
    messageId: turn.messageId,
    plain: turn.plain,
    encrypted: turn.encrypted && {
      keyId: turn.encrypted.keyId,
      nonce: turn.encrypted.nonce.toString('base64'),
      ciphertext: turn.encrypted.ciphertext.toString('base64'),
    },
  } satisfies Wire);

function fromWire(json: string): StoredTurn | undefined {
  try {
    const w = JSON.parse(json) as Wire;
    return {
      role: w.role,
      messageId: w.messageId,
      plain: w.plain,
      encrypted: w.encrypted && {
        keyId: w.encrypted.keyId,
        nonce: Buffer.from(w.encrypted.nonce, 'base64'),
        ciphertext: Buffer.from(w.encrypted.ciphertext, 'base64'),
      },
    };
  } catch {
    return undefined;
  }
}

/** The turns of a hash, in version order. */
const parseTurns = (all: Record<string, string>): StoredTurn[] =>
  Object.keys(all)
    .sort()
    .flatMap((field) => fromWire(all[field] ?? '') ?? []);

/** The turns up to and including the user message `messageId` (all when it is not there). */
function upTo(turns: StoredTurn[], messageId: string): StoredTurn[] {
  const at = turns.findIndex((t) => t.role === 'user' && t.messageId === messageId);
  return at < 0 ? turns : turns.slice(0, at + 1);
}

/** A turn to keep, under the version of the event that recorded it. */
export interface Keeping {
  version: number;
  turn: StoredTurn;
}

type Chain = ReturnType<Redis['pipeline']>;

export class ConversationMemory {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}

  private key(kind: string, id: string) {
    return `parley:${this.namespace}assistant:memory:${kind}:${id}`;
  }

  async started(conversationId: string, ownerId: string, titled: boolean): Promise<void> {
    const key = this.key('conversation', conversationId);
    await this.redis
      .multi()
      .hset(key, 'owner', ownerId, 'titled', titled ? '1' : '0')
      .expire(key, MEMORY_SECONDS)
      .exec();
  }

  async titled(conversationId: string): Promise<void> {
    await this.redis.hset(this.key('conversation', conversationId), 'titled', '1');
  }

  /** Keeps a turn under the version of the event that recorded it (a replay writes it again). */
  async remember(conversationId: string, version: number, turn: StoredTurn): Promise<void> {
    const results = await this.keep(this.redis.multi(), conversationId, { version, turn }).exec();
    await this.trim(conversationId, Number(results?.[2]?.[1] ?? 0));
  }

  /**
   * What answering a message needs, in one round trip: whether its reply was sent already, the
   * conversation's owner and title state, its turns up to the message, and whether the user
   * stopped it before it began (`stopKey`). With `keeping`, the message's own turn is kept first
   * in the same transaction (a new message: one round trip instead of two before the model call).
   */
  async forAnswer(
    conversationId: string,
    messageId: string,
    commandId: string,
    stopKey: string,
    keeping?: Keeping,
  ) {
    const chain = keeping
      ? this.keep(this.redis.multi(), conversationId, keeping)
      : this.redis.pipeline();
    const all = ((await chain
      .exists(this.key('recorded', commandId))
      .hmget(this.key('conversation', conversationId), 'owner', 'titled')
      .hgetall(this.key('turns', conversationId))
      .exists(stopKey)
      .exec()) ?? []) as Array<[Error | null, unknown]>;
    const failed = all.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    if (keeping) await this.trim(conversationId, Number(all[2]?.[1] ?? 0));
    const [recorded, about, turns, stopped] = all.slice(keeping ? 3 : 0).map(([, value]) => value);
    const [owner, titled] = (about as Array<string | null>) ?? [];
    return {
      recorded: recorded === 1,
      ...(owner ? { ownerId: owner } : {}),
      titled: titled === '1',
      turns: upTo(parseTurns((turns as Record<string, string>) ?? {}), messageId),
      stopped: stopped === 1,
    };
  }

  /** Queues the keeping of a turn on `chain`: three replies, the last the number of turns. */
  private keep(chain: Chain, conversationId: string, { version, turn }: Keeping): Chain {
    const key = this.key('turns', conversationId);
    return chain
      .hset(key, String(version).padStart(10, '0'), toWire(turn))
      .expire(key, MEMORY_SECONDS)
      .hlen(key);
  }

  /** The oldest turns dropped once there are more than MEMORY_TURNS. */
  private async trim(conversationId: string, count: number): Promise<void> {
    if (count <= MEMORY_TURNS) return;
    const key = this.key('turns', conversationId);
    const fields = (await this.redis.hkeys(key)).sort();
    await this.redis.hdel(key, ...fields.slice(0, count - MEMORY_TURNS));
  }

  async forget(conversationId: string): Promise<void> {
    await this.redis.del(
      this.key('conversation', conversationId),
      this.key('turns', conversationId),
    );
  }

  /** A reply command sent for good (its record is in Kafka): a redelivery does not ask again. */
  async recorded(commandId: string): Promise<void> {
    await this.redis.set(this.key('recorded', commandId), '1', 'EX', MEMORY_SECONDS);
  }
}
