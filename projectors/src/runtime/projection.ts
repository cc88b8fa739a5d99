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
import type { EventMetadata } from '@parley/schemas/generated/records';
import type { topicNames } from '@parley/schemas/topics/catalogue';

/** A decoded event with where it came from. */
export interface ProjectedEvent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly type: string;
  readonly value: { metadata: EventMetadata } & Record<string, unknown>;
  /** The event's span in this projection, when its record carried a trace (tracing on). */
  readonly trace?: Context;
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

interface Common {
  /** Also the consumer group (`projector.<name>`) and the dead-letter topic's owner. */
  readonly name: string;
  /** Partitions applied at the same time (3 unless the store wants fewer writers). */
  readonly partitionsConcurrently?: number;
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
export interface PostgresProjection extends Common {
  readonly store: 'postgres';
  apply(
    client: PoolClient,
    stores: Stores,
    generation: Generation,
    events: readonly ProjectedEvent[],
  ): Promise<void>;
}

/** Writes guarded by the aggregate version: replaying a batch changes nothing. */
export interface GuardedProjection extends Common {
  readonly store: 'mongo' | 'redis';
  apply(stores: Stores, generation: Generation, events: readonly ProjectedEvent[]): Promise<void>;
}

export type Projection = PostgresProjection | GuardedProjection;

export const groupOf = (projection: { name: string }) => `projector.${projection.name}`;
/**
 * The group that redrives a projection's dead letters (`npm run projector -- dlq redrive`): it
 * commits past them once they all apply, so its lag on the dead-letter topic is how many wait.
 */
export const redriveGroupOf = (projection: { name: string }) => `${groupOf(projection)}.redrive`;
