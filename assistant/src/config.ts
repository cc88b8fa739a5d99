import { env, type Loaded } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { kafkaSettings } from '@parley/platform/kafka';
import { personalDataSettings } from '@parley/platform/personal-data';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';

/** The assistant reactor serves no API; its HTTP port carries health and metrics only. */
export const settings = {
  ...serviceSettings(3004),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  // The data keys (identity.data_keys): what people wrote is decrypted for the prompt and the
  // reply encrypted under the owner's key.
  ...postgresSettings,
  ...redisSettings,
  ...personalDataSettings,
  ...consumerLagSettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /** The reactor's consumer group; prefixed by TOPIC_PREFIX. */
  ASSISTANT_GROUP_ID: env.string({ default: 'assistant' }),
  /** offline (deterministic, the default), offline:fail and offline:stall (a broken provider, for tests), or openai-compatible. */
  ASSISTANT_MODEL: env.matching(
    /^(offline|offline:fail|offline:stall|openai-compatible)$/,
    'offline, offline:fail, offline:stall or openai-compatible',
    { default: 'offline' },
  ),
  /** The model's id as the provider names it (recorded with every reply). */
  ASSISTANT_MODEL_ID: env.string({ default: 'parley-offline-1' }),
  /** The OpenAI-compatible endpoint, e.g. https://api.example.com/v1 (openai-compatible only). */
  ASSISTANT_BASE_URL: env.matching(/^(https?:\/\/\S+)?$/, 'an http(s) URL, or empty', {
    default: '',
  }),
  /** The provider's key; usually ASSISTANT_API_KEY_FILE, a mounted secret. */
  ASSISTANT_API_KEY: env.secret({ default: '' }),
  ASSISTANT_SYSTEM_PROMPT: env.string({
    default:
      'You are Parley, a helpful assistant. Answer clearly and briefly, in the language of the question.',
  }),
  /** Tokens the prompt may take (system prompt, earlier turns, the message); oldest turns go first. */
  ASSISTANT_PROMPT_TOKEN_BUDGET: env.int(256, 1_000_000, { default: 4_000 }),
  ASSISTANT_MAX_OUTPUT_TOKENS: env.int(16, 100_000, { default: 1_024 }),
  /** How long the model may take to send its first token before the attempt fails. */
  ASSISTANT_FIRST_TOKEN_TIMEOUT_MS: env.int(50, 300_000, { default: 15_000 }),
  /** How long one reply may take in all. */
  ASSISTANT_REPLY_TIMEOUT_MS: env.int(500, 1_800_000, { default: 180_000 }),
  /** Attempts after the first, before a first token only, with jittered backoff. */
  ASSISTANT_RETRIES: env.int(0, 10, { default: 2 }),
  /** Failed attempts in a row that open the circuit breaker around the model. */
  ASSISTANT_BREAKER_FAILURES: env.int(1, 1_000, { default: 5 }),
  /** How long the breaker stays open before one trial call. */
  ASSISTANT_BREAKER_HALF_OPEN_MS: env.int(100, 3_600_000, { default: 30_000 }),
  /** Replies written at once by one instance (across conversations; in order within one). */
  ASSISTANT_CONCURRENCY: env.int(1, 10_000, { default: 64 }),
  /** A message older than this when reached is recorded as failed (expired), not asked. */
  ASSISTANT_MAX_MESSAGE_AGE_SECONDS: env.int(10, 30 * 86_400, { default: 3_600 }),
  /** The offline model's pace: tokens per second, and the wait for its first token. */
  ASSISTANT_OFFLINE_TOKENS_PER_SECOND: env.int(1, 1_000_000, { default: 40 }),
  ASSISTANT_OFFLINE_FIRST_TOKEN_MS: env.int(0, 600_000, { default: 300 }),
};

export type Config = Loaded<typeof settings>;
