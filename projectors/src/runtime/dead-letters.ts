/**
 * Dead letters: a record that cannot be decoded or applied goes to `<group>.dlq` unchanged (key,
 * value, headers), with headers naming the error and where it came from; the projection goes on.
 */
import type { IHeaders, KafkaMessage, Producer } from '@parley/platform/kafka';
import { isUnreachableItself } from '@parley/platform/unreachable';

export const DLQ_HEADERS = {
  error: 'parley.dlq.error',
  reason: 'parley.dlq.reason',
  topic: 'parley.dlq.topic',
  partition: 'parley.dlq.partition',
  offset: 'parley.dlq.offset',
  projection: 'parley.dlq.projection',
  at: 'parley.dlq.at',
} as const;

export interface DeadLetter {
  topic: string;
  partition: number;
  message: KafkaMessage;
  error: unknown;
}

/** Longest reason kept in a dead letter's header. */
export const REASON_MAX_LENGTH = 1000;
const CODE_MAX_LENGTH = 100;
const CAUSES_FOLLOWED = 5;

/**
 * The error of a dead letter as the two header strings: a short code and a reason. Whatever was
 * thrown (an Error with a numeric code, nested causes, a string, an object, null) gives two
 * strings, capped, so writing the dead letter can never fail on the error's shape.
 */
export function describeFailure(error: unknown): { code: string; reason: string } {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < CAUSES_FOLLOWED && current !== undefined; depth++) {
    parts.push(messageOf(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return {
    code: codeOf(error).slice(0, CODE_MAX_LENGTH) || 'Error',
    reason: parts.join(' <- caused by: ').slice(0, REASON_MAX_LENGTH),
  };
}

/** A store's code (numeric ones too), else the error's name, else what kind of value it was. */
function codeOf(error: unknown): string {
  if (error === null) return 'null';
  if (typeof error !== 'object') return typeof error;
  const { code, codeName, name } = error as { code?: unknown; codeName?: unknown; name?: unknown };
  if (typeof code === 'string' || typeof code === 'number' || typeof code === 'bigint') {
    return String(code);
  }
  if (typeof codeName === 'string') return codeName;
  return typeof name === 'string' ? name : 'Object';
}

function messageOf(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  if (typeof thrown === 'string') return thrown;
  try {
    return JSON.stringify(thrown) ?? String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}

/** The record's own headers that can be sent again (kafkajs gives Buffers, arrays or undefined). */
function keptHeaders(headers: KafkaMessage['headers']): IHeaders {
  const kept: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly projection: string,
  ) {}

  async write(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const at = new Date().toISOString();
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map(({ topic, partition, message, error }) => {
        const { code, reason } = describeFailure(error);
        return {
          key: message.key,
          value: message.value,
          headers: {
            ...keptHeaders(message.headers),
            [DLQ_HEADERS.error]: code,
            [DLQ_HEADERS.reason]: reason,
            [DLQ_HEADERS.topic]: topic,
            [DLQ_HEADERS.partition]: String(partition),
            [DLQ_HEADERS.offset]: String(message.offset),
            [DLQ_HEADERS.projection]: this.projection,
            [DLQ_HEADERS.at]: at,
          },
        };
      }),
    });
  }
}

/**
 * PostgreSQL SQLSTATEs worth retrying: connection (08), resources (53), operator intervention
 * (57), system (58) classes, serialization failures and deadlocks, a lock not available, and a
 * table or column another service creates that is not there yet (identity.data_keys, migrated by
 * command-api). Every other SQLSTATE
 * (22 data exceptions such as a NUL in text, 23 constraint violations...) refuses the record.
 */
const POSTGRES_TRANSIENT_CLASSES = new Set(['08', '53', '57', '58']);
const POSTGRES_TRANSIENT_CODES = new Set(['40001', '40P01', '55P03', '42P01', '42703']);

/** MongoDB server error codes that say "not now" rather than "never" (network, elections, limits). */
const MONGO_TRANSIENT_CODES = new Set([
  6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);
const MONGO_TRANSIENT_LABELS = ['RetryableWriteError', 'TransientTransactionError', 'ResetPool'];

/** Redis replies that go away by themselves. */
const REDIS_TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/;

const SQLSTATE = /^[0-9A-Z]{5}$/;

type Thrown = {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  poison?: unknown;
  cause?: unknown;
  hasErrorLabel?: (label: string) => boolean;
};

function mongoTransient(e: Thrown): boolean {
  if (
    /^Mongo(Network|ServerSelection|NotConnected|Timeout|Topology|PoolCleared)/.test(String(e.name))
  ) {
    return true;
  }
  if (typeof e.hasErrorLabel === 'function') {
    const labelled = e.hasErrorLabel.bind(e);
    if (MONGO_TRANSIENT_LABELS.some((l) => labelled(l))) return true;
  }
  return typeof e.code === 'number' && MONGO_TRANSIENT_CODES.has(e.code);
}

function codeTransient(code: string): boolean | undefined {
  if (!SQLSTATE.test(code)) return undefined;
  return POSTGRES_TRANSIENT_CODES.has(code) || POSTGRES_TRANSIENT_CLASSES.has(code.slice(0, 2));
}

/** True or false when this error itself tells; undefined to look at its cause. */
function transientItself(e: Thrown): boolean | undefined {
  // Our own errors say so (serde: a registry out of reach is not the record's fault).
  if (typeof e.poison === 'boolean') return !e.poison;
  // An optimistic write lost to another writer: the batch is read again and reapplied.
  if (e.name === 'ConcurrentWriteError') return true;
  // A store or the network away, as each client says it (the one list, platform/unreachable.ts).
  if (isUnreachableItself(e)) return true;
  if (typeof e.name === 'string' && e.name.startsWith('Mongo')) return mongoTransient(e);
  if (e.name === 'ReplyError') return REDIS_TRANSIENT_REPLY.test(String(e.message));
  const byCode = typeof e.code === 'string' ? codeTransient(e.code) : undefined;
  if (byCode !== undefined) return byCode;
  return undefined;
}

/**
 * Errors worth retrying: a store or the network is briefly away. Anything else (a store's
 * permanent refusal, a bug) is the record's: it goes to the dead letters at once. Causes are
 * followed, so a wrapped network error is still transient.
 */
export function isTransient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSES_FOLLOWED; depth++) {
    if (typeof current !== 'object' || current === null) return false;
    const verdict = transientItself(current as Thrown);
    if (verdict !== undefined) return verdict;
    current = (current as Thrown).cause;
  }
  return false;
}
