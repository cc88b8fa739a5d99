/** What `npm run replay` reads from the environment: the brokers, the registry, the topic prefix. */
import type { Loaded } from '@parley/platform/config';
import { kafkaSettings } from '@parley/platform/kafka';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { topicSettings } from '@parley/schemas/topics/catalogue';

export const settings = {
  ...kafkaSettings,
  ...schemaRegistrySettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
};

export type Config = Loaded<typeof settings>;
