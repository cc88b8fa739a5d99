/** The bootstrap's configuration (`npm run bootstrap`, and the Helm chart's bootstrap job). */
import { kafkaSettings } from '@parley/platform/kafka';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { topicSettings } from '../topics/catalogue.ts';

export const bootstrapSettings = {
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...topicSettings,
};
