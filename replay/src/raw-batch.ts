/**
 * A fetched batch packed for the pipeline's worker thread: the payloads copied into one buffer
 * that is transferred (not cloned), the rest in flat arrays. Structured cloning each record as an
 * object would cost the consumer's thread as much as decoding it.
 */
import type { KafkaMessage } from '@parley/platform/kafka';
import { type RawRecord, rawRecordOf } from './replayed-record.ts';

export interface RawBatch {
  partition: number;
  offsets: string[];
  timestamps: string[];
  headers: string[];
  /** Every payload, one after the other. */
  bytes: Uint8Array;
  /** Where each payload ends in `bytes`. */
  ends: Uint32Array;
}

export function packBatch(partition: number, messages: readonly KafkaMessage[]): RawBatch {
  const raws = messages.map(rawRecordOf);
  const bytes = new Uint8Array(raws.reduce((n, r) => n + r.value.length, 0));
  const ends = new Uint32Array(raws.length);
  let at = 0;
  for (const [i, raw] of raws.entries()) {
    bytes.set(raw.value, at);
    at += raw.value.length;
    ends[i] = at;
  }
  return {
    partition,
    offsets: raws.map((r) => r.offset),
    timestamps: raws.map((r) => r.timestamp),
    headers: raws.map((r) => r.headersJson),
    bytes,
    ends,
  };
}

/** The buffers `postMessage` moves to the other thread instead of copying. */
export function transferList(batch: RawBatch): ArrayBuffer[] {
  return [batch.bytes.buffer, batch.ends.buffer] as ArrayBuffer[];
}

export function* unpackBatch(batch: RawBatch): Generator<RawRecord> {
  const { bytes } = batch;
  let start = 0;
  for (let i = 0; i < batch.ends.length; i++) {
    const end = batch.ends[i] as number;
    yield {
      offset: batch.offsets[i] as string,
      timestamp: batch.timestamps[i] as string,
      headersJson: batch.headers[i] as string,
      value: Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start),
    };
    start = end;
  }
}
