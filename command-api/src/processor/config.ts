/** The command processor's configuration, from the environment (its own process and deployable). */
import { env } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { kafkaSettings } from '@parley/platform/kafka';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';

export const processorSettings = {
  ...serviceSettings(3003),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...redisSettings,
  ...consumerLagSettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  PROCESSOR_GROUP_ID: env.string({ default: 'command-processor' }),
  /** How soon a processor that died is noticed and its partitions move (broker minimum 6000). */
  PROCESSOR_SESSION_TIMEOUT_MS: env.int(6_000, 300_000, { default: 30_000 }),
};
