/**
 * What a projection declares: the event topics it reads, the store it writes, and how to prepare,
 * fill and drop one generation of its read model. The runtime (runner.ts) does the rest:
 * consuming, decoding, checkpoints, retries, dead letters, metrics, shutdown and rebuilds.
 */

import type { MongoClient } from '@parley/platform/mongo';
import type { PersonalDataCipher } from '@parley/platform/personal-data';
import type { Pool, PoolClient } from '@parley/platform/postgres';
import type { Place } from '@parley/platform/read-model-names';
import type { Redis } from '@parley/platform/redis';
import type { Context } from '@parley/platform/tracing';
import {
  type ChatEvent,
  chatEventTypes,
  type IdentityEvent,
  identityEventTypes,
} from '@parley/schemas/generated/records';
import type { FieldSelection, SelectedEvent } from '@parley/schemas/serde/field-selection';
import type { AnyRecord } from '@parley/schemas/serde/serde';
import type { topicNames } from '@parley/schemas/topics/catalogue';

/** Where a record was read: its topic, partition and offset, and its trace when tracing is on. */
export interface Source {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** The event's span in this projection, when its record carried a trace (tracing on). */
  readonly trace?: Context;
}

/**
 * A decoded event with where it came from, typed from its Avro schema: `event.type` narrows
 * `event.value` to that event's fields; to those the projection reads, when it selects them.
 */
export type ProjectedEvent<S extends FieldSelection = FieldSelection> = SelectedEvent<S> & Source;
export type ProjectedChatEvent = ChatEvent & Source;
export type ProjectedIdentityEvent = IdentityEvent & Source;

const CHAT_EVENTS: ReadonlySet<string> = new Set(chatEventTypes);
const IDENTITY_EVENTS: ReadonlySet<string> = new Set(identityEventTypes);

/** Whether a decoded record is an event (not a command or state record on an event topic). */
export const isDomainEvent = (record: { type: string }): record is ChatEvent | IdentityEvent =>
  CHAT_EVENTS.has(record.type) || IDENTITY_EVENTS.has(record.type);
export const isChatEvent = (event: ProjectedEvent): event is ProjectedChatEvent =>
  CHAT_EVENTS.has(event.type);
export const isIdentityEvent = (event: ProjectedEvent): event is ProjectedIdentityEvent =>
  IDENTITY_EVENTS.has(event.type);

/** A record on an event topic that is not an event: a poison record, sent to the dead letters. */
export class NotAnEventError extends Error {
  override readonly name = 'NotAnEventError';
}

/** A decoded record as a projection reads it; a record that is no event is refused. */
export function projectedEvent(record: AnyRecord, source: Source): ProjectedEvent {
  if (!isDomainEvent(record)) throw new NotAnEventError(`${record.type} is not an event`);
  // The decoded record is this batch's own: its source is added in place, not copied. (Decoded
  // with the projection's selection, it holds the fields the projection's own type promises.)
  return Object.assign(record, source);
}

export interface Stores {
  pool: Pool;
  mongo: MongoClient;
  redis: Redis;
  cipher: PersonalDataCipher;
}

/**
 * Where one generation's data lives (its names: `@parley/platform/read-model-names`), and which
 * projection it belongs to.
 */
export interface Generation extends Place {
  readonly projection: string;
}

interface Common<S extends FieldSelection> {
  /** Also the consumer group (`projector.<name>`) and the dead-letter topic's owner. */
  readonly name: string;
  /**
   * The fields it reads of the events it lists, when not all: the others are skipped when the
   * events are decoded (aggregateId, aggregateVersion and occurredAt of the metadata are needed by
   * the runtime).
   */
  readonly reads?: S;
  /** Partitions applied at the same time (3 unless the store wants fewer writers). */
  readonly partitionsConcurrently?: number;
  /**
   * Bytes fetched a partition at a time, which bounds a batch (1 MB unless given): larger batches
   * mean fewer transactions, and more memory for the events they hold.
   */
  readonly batchBytes?: number;
  readonly topics: (names: typeof topicNames) => string[];
  prepare(stores: Stores, generation: Generation): Promise<void>;
  drop(stores: Stores, generation: Generation): Promise<void>;
  /** A checksum of the generation's whole content, for comparing two builds. */
  checksum(stores: Stores, generation: Generation): Promise<string>;
}

/**
 * Applied inside the runner's transaction, which also moves the checkpoint: a batch is applied
 * exactly once, whatever is replayed.
 */
export interface PostgresProjection<S extends FieldSelection = FieldSelection> extends Common<S> {
  readonly store: 'postgres';
  apply(
    client: PoolClient,
    stores: Stores,
    generation: Generation,
    events: readonly ProjectedEvent<S>[],
  ): Promise<void>;
}

/** Writes guarded by the aggregate version: replaying a batch changes nothing. */
export interface GuardedProjection<S extends FieldSelection = FieldSelection> extends Common<S> {
  readonly store: 'mongo' | 'redis';
  apply(
    stores: Stores,
    generation: Generation,
    events: readonly ProjectedEvent<S>[],
  ): Promise<void>;
}

export type Projection = PostgresProjection | GuardedProjection;

export const groupOf = (projection: { name: string }) => `projector.${projection.name}`;
/**
 * The group that redrives a projection's dead letters (`npm run projector -- dlq redrive`): it
 * commits past them once they all apply, so its lag on the dead-letter topic is how many wait.
 */
export const redriveGroupOf = (projection: { name: string }) => `${groupOf(projection)}.redrive`;
