/**
 * The one place Kafka clients are made (kafkajs today; @confluentinc/kafka-javascript offers the
 * same API should kafkajs stop being maintained). Producers use the Java-compatible murmur2
 * partitioner so a key lands on the same partition whichever client wrote it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Admin,
  AssignerProtocol,
  CompressionTypes,
  type ITopicConfig,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';
import type { Logger } from './logger.ts';

export type {
  Admin,
  Consumer,
  EachBatchPayload,
  IHeaders,
  ITopicConfig,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
  RecordMetadata,
} from 'kafkajs';
export { CompressionTypes };

export const kafkaSettings = {
  KAFKA_BROKERS: env.hostPorts({ default: { dev: ['127.0.0.1:19092'] } }),
  KAFKA_CLIENT_ID: env.string({ default: 'parley' }),
};

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
  /** How long to wait for a broker connection; short in tests and health checks. */
  connectionTimeoutMs?: number;
  retry?: KafkaConfig['retry'];
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(options: KafkaOptions): Kafka {
  const log = options.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    retry: options.retry ?? { initialRetryTime: 100, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
  });
}

/**
 * Retry timing of the clients transactional producers are made from. Between back-to-back
 * transactions the coordinator answers CONCURRENT_TRANSACTIONS for the few milliseconds it takes
 * to complete the last commit, and kafkajs waits its retry time before asking again: one
 * partition committed about 15 transactions a second from 100 ms and about 70 from 5 ms (ADR
 * 0028). Thirteen doublings from 5 ms still wait about 40 s in all for a broker that is away.
 */
const TRANSACTIONAL_RETRY = { initialRetryTime: 5, retries: 13 } as const;

/** Retries a call that Kafka answered with a retriable protocol error kafkajs does not retry itself. */
export async function retryConcurrentTransactions<T>(
  call: () => Promise<T>,
  attempts = 8,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      // kafkajs does not retry CONCURRENT_TRANSACTIONS on AddOffsetsToTxn (tulios/kafkajs#430).
      const type = (error as { type?: string }).type;
      if (type !== 'CONCURRENT_TRANSACTIONS' || attempt >= attempts) throw error;
      // The coordinator is finishing the last commit, which takes milliseconds (ADR 0028).
      await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 5));
    }
  }
}

/** A client for transactional producers only; other clients keep the default retry timing. */
export function createTransactionalKafka(options: Omit<KafkaOptions, 'retry'>): Kafka {
  return createKafka({ ...options, retry: { ...TRANSACTIONAL_RETRY } });
}

export function createProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
}

/** Ready when a broker answers a metadata request (through an admin client kept for this). */
export function kafkaHealthCheck(admin: Admin): HealthCheck {
  return {
    name: 'kafka',
    check: async () => {
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length === 0) throw new Error('no brokers in cluster metadata');
    },
  };
}

/**
 * A Kafka client from the shared settings, plus an admin client used for readiness. The admin
 * connects in the background: the process starts without Kafka and reports it down until it answers.
 */
export function connectKafka(
  config: ConfigOf<typeof kafkaSettings>,
  clientId: string,
  log: Logger,
) {
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}.${clientId}`,
    log,
  });
  const admin = kafka.admin();
  admin.connect().catch((error: unknown) => log.warn({ err: error }, 'kafka not reachable yet'));
  return {
    kafka,
    admin,
    check: kafkaHealthCheck(admin),
    resource: { name: 'kafka-admin', close: () => admin.disconnect() },
  };
}

/** The topics a consumer group member subscribes to, from its metadata (describeGroups). */
export function subscribedTopics(memberMetadata: Buffer): string[] {
  try {
    return AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics ?? [];
  } catch {
    // Not a consumer's metadata (another protocol): no topics.
    return [];
  }
}

/** What a broker answers for a topic whose metadata has not reached it yet, or has no leader yet. */
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const notYet = (error: unknown) => NOT_YET.has(String((error as { type?: unknown }).type));

/**
 * Creates topics and waits until every partition has a leader; whether any was created (false:
 * all existed). kafkajs's own wait (`waitForLeaders`) gives up at once when the broker answers
 * UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker does for a moment after a creation, before its
 * metadata has caught up: that moment is waited out here, `timeoutMs` at most.
 */
export async function createTopics(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<boolean> {
  let created = true;
  try {
    created = await admin.createTopics({ topics, waitForLeaders: true });
  } catch (error) {
    if (!notYet(error)) throw error;
  }
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: names });
      const led = metadata.topics.every(
        (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
      );
      if (led) return created;
    } catch (error) {
      if (!notYet(error)) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics without a leader after ${timeoutMs} ms: ${names.join(', ')}`);
    }
    await sleep(100);
  }
}
