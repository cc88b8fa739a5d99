/**
 * Keeps the identity store in step with the user events, whoever appended them: a role change
 * reaches new tokens, a deactivation or erasure ends every session, an erasure deletes the data
 * key. The routes apply these at once when they see the outcome; this consumer makes it certain
 * when they do not (an outcome that arrived after the request answered 202, an API that died in
 * between). Every step is idempotent, so a replayed event changes nothing.
 */
import type { Consumer, Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import type { DataKeyStore } from '@parley/platform/personal-data';
import { inTransaction, type Pool } from '@parley/platform/postgres';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { CredentialStore } from '../auth/credential-store.ts';

export interface StoreSyncOptions {
  kafka: Kafka;
  serde: AvroSerde;
  pool: Pool;
  credentials: CredentialStore;
  dataKeys: DataKeyStore;
  log: Logger;
  topic: string;
  groupId: string;
}

export async function applyUserEvent(
  options: Pick<StoreSyncOptions, 'pool' | 'credentials' | 'dataKeys'>,
  type: string,
  userId: string,
  value: Record<string, unknown>,
): Promise<void> {
  if (type === 'UserRoleChanged') {
    await options.credentials.setRole(userId, value.role as 'user' | 'admin' | 'analyst');
  } else if (type === 'UserDeactivated') {
    await options.credentials.deactivate(userId);
  } else if (type === 'UserErased') {
    await inTransaction(options.pool, async (client) => {
      await options.credentials.erase(client, userId);
      await options.dataKeys.erase(userId, client);
    });
  }
}

export async function startStoreSync(options: StoreSyncOptions): Promise<Consumer> {
  const consumer = options.kafka.consumer({ groupId: options.groupId, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) return;
        try {
          const decoded = await options.serde.decode(message.value ?? Buffer.alloc(0));
          const userId = message.key?.toString('utf8') ?? '';
          await applyUserEvent(options, decoded.type, userId, decoded.value as never);
        } catch (error) {
          // Not resolved: the batch is fetched again (kafkajs retries with backoff).
          options.log.error({ err: error, offset: message.offset }, 'identity store sync failed');
          throw error;
        }
        resolveOffset(message.offset);
        await heartbeat();
      }
    },
  });
  return consumer;
}
