/**
 * A record as a replay reads it from Kafka (raw: what crosses to the pipeline's thread) and as it
 * is written out (replayed: decoded and without personal data).
 */
import type { KafkaMessage } from '@parley/platform/kafka';

/** A record as fetched: its position, time, headers (as JSON text) and Avro payload. */
export interface RawRecord {
  offset: string;
  /** ISO 8601, UTC (made in the consumer's thread, which has time to spare). */
  timestamp: string;
  /** The headers as a JSON object of strings (the first value of a repeated header). */
  headersJson: string;
  value: Buffer;
}

function headersOf(message: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(raw) ? raw[0] : raw;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/** The last timestamp formatted: records of one producer batch mostly share their millisecond. */
let lastMs = Number.NaN;
let lastIso = '';
function isoOf(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

export function rawRecordOf(message: KafkaMessage): RawRecord {
  return {
    offset: message.offset,
    timestamp: isoOf(Number(message.timestamp)),
    headersJson: JSON.stringify(headersOf(message)),
    value: message.value ?? Buffer.alloc(0),
  };
}

/**
 * One record as it is written out. The headers stay JSON text until a filter or a field asks for
 * one: NDJSON takes the text as it is, and parsing every record's headers cost a tenth of a
 * replay.
 */
export class ReplayedRecord {
  #headers: Record<string, string> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    /** The record's timestamp (ISO 8601, UTC). */
    readonly timestamp: string,
    readonly headersJson: string,
    readonly type: string,
    readonly value: unknown,
    /** Writes the value as JSON, generated from its schema (jsonOf otherwise). */
    readonly json?: (value: unknown) => string,
  ) {}

  get headers(): Record<string, string> {
    this.#headers ??= JSON.parse(this.headersJson) as Record<string, string>;
    return this.#headers;
  }
}
