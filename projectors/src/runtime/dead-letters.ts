/**
 * Dead letters: a record that cannot be decoded or applied goes to `<group>.dlq` unchanged (key,
 * value, headers), with headers naming the error and where it came from; the projection goes on.
 */
import type { IHeaders, KafkaMessage, Producer } from '@parley/platform/kafka';

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

export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly projection: string,
  ) {}

  async write(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map(({ topic, partition, message, error }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers as IHeaders),
          [DLQ_HEADERS.error]:
            (error as { code?: string }).code ?? (error as Error).name ?? 'Error',
          [DLQ_HEADERS.reason]: String((error as Error).message ?? error).slice(0, 1000),
          [DLQ_HEADERS.topic]: topic,
          [DLQ_HEADERS.partition]: String(partition),
          [DLQ_HEADERS.offset]: message.offset,
          [DLQ_HEADERS.projection]: this.projection,
          [DLQ_HEADERS.at]: new Date().toISOString(),
        },
      })),
    });
  }
}

/** Errors worth retrying: the store or the network is briefly away. Anything else is the record's. */
export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string };
  const codes = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'EAI_AGAIN',
    '57P01', // admin shutdown
    '57P03', // cannot connect now
    '08000',
    '08003',
    '08006',
    '40001', // serialization failure
    '40P01', // deadlock
    '53300', // too many connections
    '42P01', // a table another service creates is not there yet (identity.data_keys)
  ]);
  if (e.code && codes.has(e.code)) return true;
  // An optimistic write lost to another writer: the batch is read again and reapplied.
  if (e.name === 'ConcurrentWriteError') return true;
  if (e.name && /^Mongo(Network|ServerSelection|NotConnected|Timeout)/.test(e.name)) return true;
  // A MongoDB-wire server on SQLite (FerretDB) answers a concurrent writer with SQLITE_BUSY.
  return /Connection (is )?(closed|terminated)|Stream isn't writeable|timeout|database is locked|SQLITE_BUSY/i.test(
    e.message ?? '',
  );
}
