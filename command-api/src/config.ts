import { authSettings } from '@parley/platform/auth';
import { env, type Loaded } from '@parley/platform/config';
import { kafkaSettings } from '@parley/platform/kafka';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';

export const settings = {
  ...serviceSettings(3000),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...redisSettings,
  ...authSettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /** How long a request waits for its command's outcome before answering 202. */
  COMMAND_OUTCOME_WAIT_MS: env.int(0, 30_000, { default: 3_000 }),
};

export type Config = Loaded<typeof settings>;
