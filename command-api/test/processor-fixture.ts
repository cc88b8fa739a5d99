/**
 * Command-side topics of a test's own (commands, events, state per context) and a command
 * processor on them, against the real stack. Removes its topics and groups afterwards.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '@parley/platform/config';
import { type Admin, createTopics, type Kafka } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { createRedis, type Redis } from '@parley/platform/redis';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { recordAnswers } from '@parley/platform/testing/contract';
import {
  quietLogger,
  redisReady,
  stackConfig,
  testKafka,
  testTransactionalKafka,
  uniqueName,
} from '@parley/platform/testing/fixtures';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import type { CommandMetadata } from '@parley/schemas/generated/records';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { DEAD_LETTER_GROUPS, prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { settings } from '../src/config.ts';
import { type CommandApiDependencies, createDependencies } from '../src/dependencies.ts';
import { processorContexts } from '../src/processor/contexts.ts';
import { type CommandProcessor, startCommandProcessor } from '../src/processor/processor.ts';

/** The command side's two entrypoints, run as real processes. */
export const ENTRIES = {
  'command-api': new URL('../src/server.ts', import.meta.url).pathname,
  'command-processor': new URL('../src/processor/main.ts', import.meta.url).pathname,
} as const;

export async function processorFixture(partitions = 3) {
  const config = stackConfig();
  const options = schemaRegistryOptions(config);
  const schemas = loadSchemaSet();
  const serde = new AvroSerde(createSchemaRegistry(options), schemas);
  const topicPrefix = `${uniqueName('t').replace(/-/g, '')}.`;
  const names = prefixedTopicNames(topicPrefix);
  const contexts = processorContexts(schemas, names);
  const groupId = `${topicPrefix}processor`;
  const kafka: Kafka = testKafka();
  const admin: Admin = kafka.admin();
  await admin.connect();
  await registerSchemas(createSchemaRegistry(options), options, schemas);
  const topics = contexts.flatMap((c) => [c.commandTopic, c.eventsTopic, c.stateTopic]);
  await createTopics(
    admin,
    contexts.flatMap((c) => [
      { topic: c.commandTopic, numPartitions: partitions },
      { topic: c.eventsTopic, numPartitions: partitions },
      {
        topic: c.stateTopic,
        numPartitions: partitions,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ]),
  );
  const publisher: Redis = createRedis({
    url: config.REDIS_URL,
    connectionName: `test-processor-${randomUUID()}`,
  });
  await redisReady(publisher);
  let processor: CommandProcessor | undefined;

  const fixture = {
    config,
    serde,
    names,
    topicPrefix,
    contexts,
    kafka,
    admin,
    groupId,
    chat: contexts.find((c) => c.context.name === 'chat') ?? contexts[0],
    identity: contexts.find((c) => c.context.name === 'identity') ?? contexts[0],
    async start() {
      processor = await startCommandProcessor({
        kafka,
        producers: testTransactionalKafka(),
        admin,
        serde,
        redis: publisher,
        log: quietLogger(),
        contexts,
        groupId,
      });
      return processor;
    },
    /**
     * A command API (Fastify inject) on these topics, configured from the environment plus `env`
     * (keys, limits...). `awaitOutcomes: false` when its Redis is meant to be unreachable.
     */
    async commandApi(
      env: Record<string, string>,
      { awaitOutcomes = true } = {},
    ): Promise<{ deps: CommandApiDependencies; app: FastifyInstance; close: () => Promise<void> }> {
      const apiConfig = loadConfig(settings, { source: { ...process.env, ...env } });
      const metrics = createMetricsRegistry('command-api');
      const deps = await createDependencies({
        config: apiConfig,
        log: quietLogger(),
        metrics,
        names,
        syncGroupId: `${topicPrefix}identity-store`,
      });
      if (awaitOutcomes) await deps.waiter.start();
      const app = await buildApp({
        config: apiConfig,
        log: quietLogger(),
        metrics,
        deps,
      });
      // Every answer is held to the OpenAPI document when the API closes.
      const contract = recordAnswers(app);
      return {
        deps,
        app,
        close: async () => {
          const violations = contract.violations();
          await app.close();
          for (const r of deps.resources) await r.close().catch(() => {});
          assert.deepEqual(violations, [], 'answers the OpenAPI document lacks');
        },
      };
    },
    async stop() {
      await processor?.stop();
      processor = undefined;
    },
    running: () => processor !== undefined,
    /** Every event in an events topic, read committed, in log order per partition. */
    async allEvents(topic: string) {
      const consumer = kafka.consumer({
        groupId: uniqueName('read-events'),
        readUncommitted: false,
        maxBytesPerPartition: 4 * 2 ** 20,
      });
      const offsets = await admin.fetchTopicOffsets(topic);
      const found: Array<{
        id: string;
        version: number;
        type: string;
        aggregateId: string;
        causationId: string;
        value: Record<string, unknown>;
      }> = [];
      const done = new Set(offsets.filter((o) => o.high === '0').map((o) => o.partition));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve) => {
        if (done.size === offsets.length) resolve();
        void consumer.run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const decoded = await serde.decode(message.value as Buffer);
              const m = (
                decoded.value as {
                  metadata: {
                    eventId: string;
                    aggregateVersion: number;
                    aggregateId: string;
                    causationId: string;
                  };
                }
              ).metadata;
              found.push({
                id: m.eventId,
                version: m.aggregateVersion,
                type: decoded.type,
                aggregateId: m.aggregateId,
                causationId: m.causationId,
                value: decoded.value as unknown as Record<string, unknown>,
              });
            }
            // The last offset of a partition is a transaction marker, never delivered.
            const high = Number(offsets.find((o) => o.partition === batch.partition)?.high ?? 0);
            if (Number(batch.lastOffset()) >= high - 2) done.add(batch.partition);
            if (done.size === offsets.length) resolve();
          },
        });
      });
      await consumer.disconnect();
      return found;
    },
    async events(topic: string, aggregateId: string) {
      return (await fixture.allEvents(topic)).filter((e) => e.aggregateId === aggregateId);
    },
    /** The dead-letter topics of every projector group, deleted with the rest at cleanup. */
    async createDeadLetterTopics() {
      const deadLetters = DEAD_LETTER_GROUPS.map((g) => names.deadLetters(g));
      await createTopics(
        admin,
        deadLetters.map((topic) => ({ topic, numPartitions: 1 })),
      );
      topics.push(...deadLetters);
    },
    async cleanup() {
      await processor?.stop();
      await admin.deleteTopics({ topics }).catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
      await admin.disconnect();
      publisher.disconnect();
    },
  };
  return fixture;
}

/** Metadata of a fresh command by a user on an aggregate. */
export function commandMetadata(
  aggregateId: string,
  userId: string,
  overrides: Partial<CommandMetadata> = {},
): CommandMetadata {
  return {
    commandId: randomUUID(),
    aggregateId,
    issuedAt: Date.now(),
    correlationId: randomUUID(),
    actor: `user:${userId}`,
    actorRoles: ['user'],
    expectedVersion: null,
    idempotencyKey: null,
    tenantId: null,
    ...overrides,
  };
}
