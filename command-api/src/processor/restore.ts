/**
 * Restores the aggregates of some partitions of an aggregate-state topic. Each partition's new
 * owner first commits a marker record (a tombstone with a unique key) through its transactional
 * producer, after fencing any previous owner; everything committed before the marker is then
 * visible to a read_committed consumer, so the restore reads each partition from offset zero up
 * to its marker and knows it is complete.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';

export const MARKER_PREFIX = '__restore:';

export function markerKey(): string {
  return `${MARKER_PREFIX}${randomUUID()}`;
}

export async function restorePartitions(
  kafka: Kafka,
  topic: string,
  markers: ReadonlyMap<number, string>,
  apply: (partition: number, key: string, value: Buffer | null) => void,
  log: Logger,
  heartbeat: () => Promise<void>,
): Promise<void> {
  const groupId = `command-processor.restore.${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 4 * 2 ** 20,
  });
  const pending = new Set(markers.keys());
  const started = Date.now();
  let records = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (!pending.has(batch.partition)) return;
            const marker = markers.get(batch.partition);
            for (const message of batch.messages) {
              const key = message.key?.toString('utf8') ?? '';
              if (key === marker) {
                pending.delete(batch.partition);
                break;
              }
              if (key.startsWith(MARKER_PREFIX)) continue;
              apply(batch.partition, key, message.value);
              records += 1;
            }
            await heartbeat();
            if (pending.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => {});
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => {})
      .finally(() => admin.disconnect());
  }
  log.info(
    { topic, partitions: [...markers.keys()], records, ms: Date.now() - started },
    'aggregates restored',
  );
}
