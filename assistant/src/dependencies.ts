import { startLagMonitor } from '@parley/platform/consumer-lag';
import { connectKafka } from '@parley/platform/kafka';
import { connectCommandSender } from '@parley/platform/kafka-platformatic';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { DataKeyStore, PersonalDataCipher, parseMasterKey } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { namespaceOf } from '@parley/platform/read-model-names';
import { closeRedis, connectRedis, createRedis } from '@parley/platform/redis';
import type { Dependencies } from '@parley/platform/run-service';
import { connectSchemaRegistry } from '@parley/platform/schema-registry';
import { consumersCheck, superviseConsumer } from '@parley/platform/supervised-consumer';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { CONTEXTS, prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import { wrapLanguageModel } from 'ai';
import type { Config } from './config.ts';
import { ConversationMemory } from './memory.ts';
import { assistantMetrics } from './metrics.ts';
import { modelCaller } from './model/model-call.ts';
import { chooseModel } from './model/models.ts';
import { startReactor } from './reactor.ts';
import { ReplyWriter } from './reply-writer.ts';

export async function createDependencies({
  config,
  log,
  metrics,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
}): Promise<Dependencies> {
  const kafka = connectKafka(config, 'assistant', log);
  const registry = connectSchemaRegistry(config);
  const postgres = connectPostgres(config, 'assistant');
  const redis = connectRedis(config, 'assistant');
  const chat = CONTEXTS.find((c) => c.name === 'chat');
  if (!chat) throw new Error('no chat context in the topic catalogue');
  const names = prefixedTopicNames(config.TOPIC_PREFIX);
  const namespace = namespaceOf(config.TOPIC_PREFIX);
  const groupId = `${config.TOPIC_PREFIX}${config.ASSISTANT_GROUP_ID}`;
  const chosen = chooseModel(config);
  let counted = () => {};
  // Every request to the model is counted, whatever serves it (a replay must ask nothing).
  const model = wrapLanguageModel({
    model: chosen.model,
    middleware: {
      specificationVersion: 'v3',
      wrapStream: ({ doStream }) => {
        counted();
        return doStream();
      },
      wrapGenerate: ({ doGenerate }) => {
        counted();
        return doGenerate();
      },
    },
  });
  const caller = modelCaller(model, {
    firstTokenTimeoutMs: config.ASSISTANT_FIRST_TOKEN_TIMEOUT_MS,
    replyTimeoutMs: config.ASSISTANT_REPLY_TIMEOUT_MS,
    retries: config.ASSISTANT_RETRIES,
    breakerFailures: config.ASSISTANT_BREAKER_FAILURES,
    breakerHalfOpenMs: config.ASSISTANT_BREAKER_HALF_OPEN_MS,
    maxOutputTokens: config.ASSISTANT_MAX_OUTPUT_TOKENS,
  });
  const measured = assistantMetrics(metrics, () => caller.breakerState());
  counted = () => measured.modelCalls.inc();
  const commands = connectCommandSender(config, 'assistant');
  const cipher = new PersonalDataCipher(
    new DataKeyStore(postgres.pool, parseMasterKey(config.PII_MASTER_KEY)),
  );
  const schemas = loadSchemaSet();
  const serde = new AvroSerde(registry.registry, schemas);
  const reactor = superviseConsumer({
    name: groupId,
    log,
    metrics,
    start: async () => {
      const subscriber = createRedis({
        url: config.REDIS_URL,
        password: config.REDIS_PASSWORD,
        connectionName: 'assistant.stop-signals',
      });
      const started = await startReactor({
        kafka: kafka.kafka,
        serde,
        sender: commands.sender,
        redis: redis.redis,
        subscriber,
        cipher,
        memory: new ConversationMemory(redis.redis, namespace),
        writer: new ReplyWriter(redis.redis, namespace),
        caller,
        model: { model, provider: chosen.provider, modelId: chosen.modelId },
        metrics: measured,
        log,
        eventsTopic: names.events(chat),
        commandsTopic: names.commands(chat),
        groupId,
        namespace,
        systemPrompt: config.ASSISTANT_SYSTEM_PROMPT,
        promptBudgetTokens: config.ASSISTANT_PROMPT_TOKEN_BUDGET,
        concurrency: config.ASSISTANT_CONCURRENCY,
        maxMessageAgeMs: config.ASSISTANT_MAX_MESSAGE_AGE_SECONDS * 1000,
        titleTimeoutMs: Math.min(config.ASSISTANT_REPLY_TIMEOUT_MS, 30_000),
      });
      return {
        consumer: started.consumer,
        stop: async () => {
          await started.stop();
          await closeRedis(subscriber);
        },
      };
    },
  });
  const eventsTopics = [names.events(chat)];
  const lag = startLagMonitor({
    admin: kafka.admin,
    targets: () => [{ group: groupId, topics: eventsTopics }],
    metrics,
    log,
    intervalMs: config.CONSUMER_LAG_INTERVAL_MS,
  });
  return {
    checks: [
      kafka.check,
      registry.check,
      postgres.check,
      redis.check,
      consumersCheck('reactor', () => [reactor.status()]),
    ],
    resources: [
      { name: 'consumer-lag', close: async () => lag.stop() },
      { name: 'reactor', close: () => reactor.stop() },
      commands.resource,
      kafka.resource,
      postgres.resource,
      redis.resource,
    ],
  };
}
