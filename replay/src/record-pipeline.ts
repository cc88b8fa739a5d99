/**
 * What a replay does with each record it reads: decode through the registry, remove personal
 * data, filter, write to the sink, and count. It runs where the sink is: in the replay's own
 * thread for a sink given in code, or in a worker thread beside the Kafka consumer (pipeline.ts).
 */
import { redactor } from '@parley/schemas/avro/redact';
import { type JsonWriter, redactedJsonWriters } from '@parley/schemas/avro/redacted-json';
import type { SchemaSet } from '@parley/schemas/avro/schema-set';
import { SerdeError } from '@parley/schemas/serde/errors';
import type { AvroSerde, Decoded } from '@parley/schemas/serde/serde';
import { compileFilter, fieldAt } from './filter.ts';
import type { ReplayOptions } from './options.ts';
import { type RawRecord, ReplayedRecord } from './replayed-record.ts';
import type { Sink } from './sinks.ts';

/** What a replay has done so far. */
export interface ReplayCounts {
  read: number;
  matched: number;
  written: number;
  skipped: number;
  byType: Record<string, number>;
}

/** A record that could not be decoded, with `--on-error stop`. */
export class UnreadableRecordError extends Error {
  constructor(
    readonly position: string,
    cause: unknown,
  ) {
    super(`the record at ${position} cannot be read: ${(cause as Error).message}`, { cause });
    this.name = 'UnreadableRecordError';
  }
}

export type PipelineOptions = Pick<
  ReplayOptions,
  'asWritten' | 'types' | 'aggregate' | 'user' | 'where' | 'count' | 'onError'
>;

export interface RecordPipeline {
  /** Handles a partition's records in order; those past `count` are left unread. */
  handle(partition: number, records: Iterable<RawRecord>): Promise<void>;
  readonly counts: ReplayCounts;
  /** `count` records were written: the rest is not read. */
  enough(): boolean;
}

const USER_FIELDS = ['ownerId', 'authorId', 'userId'];

/** Whether a record is about or by a user: owner, author, actor, or the user's own events. */
function concernsUser(record: ReplayedRecord, user: string, identity: boolean): boolean {
  const value = record.value as Record<string, unknown>;
  if (USER_FIELDS.some((f) => value?.[f] === user)) return true;
  if (fieldAt(record, ['value', 'metadata', 'actor']) === `user:${user}`) return true;
  return identity && fieldAt(record, ['value', 'metadata', 'aggregateId']) === user;
}

export function createRecordPipeline(
  topic: string,
  options: PipelineOptions,
  deps: { serde: AvroSerde; schemas: SchemaSet; sink: Sink },
  onUnreadable?: (position: string, error: Error) => void,
): RecordPipeline {
  const redact = redactor(deps.schemas);
  // Generated from the current schemas: a record read as written may have other fields.
  const json: ReadonlyMap<string, JsonWriter> = options.asWritten
    ? new Map()
    : redactedJsonWriters(deps.schemas);
  const where = options.where === undefined ? undefined : compileFilter(options.where);
  const types = new Set(options.types);
  const identity = new Set(
    deps.schemas.records.filter((r) => r.context === 'identity').map((r) => r.name),
  );
  const counts: ReplayCounts = { read: 0, matched: 0, written: 0, skipped: 0, byType: {} };
  const enough = () => options.count !== undefined && counts.written >= options.count;
  const matches = (record: ReplayedRecord) =>
    (!options.aggregate ||
      fieldAt(record, ['value', 'metadata', 'aggregateId']) === options.aggregate) &&
    (!options.user || concernsUser(record, options.user, identity.has(record.type))) &&
    (!where || where(record));

  const unreadable = (partition: number, raw: RawRecord, error: unknown) => {
    // The registry out of reach is not the record's fault: the run stops.
    if (!(error instanceof SerdeError) || !error.poison) throw error;
    const position = `${topic}:${partition}:${raw.offset}`;
    counts.skipped++;
    onUnreadable?.(position, error);
    if (options.onError === 'stop') throw new UnreadableRecordError(position, error);
  };
  const decodeOptions = { asWritten: options.asWritten };
  /** Decoded without waiting once its schema is known; undefined when unreadable and skipped. */
  const decode = (
    partition: number,
    raw: RawRecord,
  ): Decoded | Promise<Decoded | undefined> | undefined => {
    try {
      const known = deps.serde.decodeKnown(raw.value, decodeOptions);
      if (known) return known;
    } catch (error) {
      unreadable(partition, raw, error);
      return undefined;
    }
    return deps.serde.decode(raw.value, decodeOptions).catch((error: unknown) => {
      unreadable(partition, raw, error);
      return undefined;
    });
  };

  /** Writes a decoded record when it matches; a promise only when the sink has to wait. */
  const handleDecoded = (partition: number, raw: RawRecord, decoded: Decoded | undefined) => {
    if (!decoded || (types.size > 0 && !types.has(decoded.type))) return;
    const record = new ReplayedRecord(
      topic,
      partition,
      raw.offset,
      raw.timestamp,
      raw.headersJson,
      decoded.type,
      redact(decoded.type, decoded.value),
      json.get(decoded.type),
    );
    if (!matches(record)) return;
    counts.matched++;
    counts.byType[record.type] = (counts.byType[record.type] ?? 0) + 1;
    counts.written++;
    return deps.sink.write(record);
  };

  return {
    counts,
    enough,
    // Awaits only what has to wait (a schema not seen yet, a full output): a promise per record
    // cost a tenth of a replay.
    async handle(partition, records) {
      for (const raw of records) {
        if (enough()) return;
        counts.read++;
        let decoded = decode(partition, raw);
        if (decoded instanceof Promise) decoded = await decoded;
        const written = handleDecoded(partition, raw, decoded);
        if (written) await written;
      }
    },
  };
}
