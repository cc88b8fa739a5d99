/**
 * @platformatic/kafka (pure JavaScript): the command producer of the command API and the
 * assistant, which send about twice as many commands per second as kafkajs for less than half its
 * CPU (bench/results/kafka-clients.json, ADR 0030). Consumers and transactions stay on kafkajs
 * (platform/src/kafka.ts). Messages keep kafkajs's shape (`Message`) everywhere else in Parley;
 * they are converted here.
 */
import {
  Consumer,
  compatibilityPartitioner,
  Producer,
  type ProducerOptions,
} from '@platformatic/kafka';
import type { Message } from 'kafkajs';
import type { ConfigOf } from './config.ts';
import type { kafkaSettings } from './kafka.ts';
import { type BatchProducer, SendBatcher } from './send-batcher.ts';

export type {
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
} from '@platformatic/kafka';

interface ClientOptions {
  brokers: string[];
  clientId: string;
}

/**
 * An idempotent producer (acks=all). Keys go to the partition Java clients and kafkajs pick
 * (murmur2 made positive by masking): the library's default partitioner differs for keys whose
 * hash has the top bit set, which would put an aggregate's commands on two partitions.
 */
export function createPlatformaticProducer(
  options: ClientOptions & { transactionalId?: string; retryDelayMs?: number },
): Producer {
  const producerOptions: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    clientId: options.clientId,
    bootstrapBrokers: options.brokers,
    idempotent: true,
    acks: -1,
    partitioner: compatibilityPartitioner,
    ...(options.transactionalId ? { transactionalId: options.transactionalId } : {}),
    ...(options.retryDelayMs ? { retryDelay: options.retryDelayMs, retries: 13 } : {}),
  };
  return new Producer(producerOptions);
}

export function createPlatformaticConsumer(options: ClientOptions & { groupId: string }): Consumer {
  return new Consumer({
    clientId: options.clientId,
    bootstrapBrokers: options.brokers,
    groupId: options.groupId,
  });
}

const bytes = (value: string | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(value));

/** A kafkajs-shaped message as platformatic's record: Buffers throughout, headers as a map. */
export function platformaticRecord(topic: string, message: Message, partition?: number) {
  const headers = new Map<Buffer, Buffer>();
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    // kafkajs leaves a header without a value out; so does this. A map holds one value a name.
    if (value === undefined) continue;
    if (Array.isArray(value)) throw new Error(`header ${name} repeated: not sent through ${topic}`);
    headers.set(Buffer.from(name), bytes(value));
  }
  const { key, value } = message;
  // Parley sends no tombstones through this producer (commands always have a value).
  if (value === null) throw new Error(`a record without a value for ${topic}`);
  return {
    topic,
    ...(key === null || key === undefined ? {} : { key: bytes(key) }),
    value: bytes(value),
    headers,
    ...(partition === undefined ? {} : { partition }),
  };
}

/** The producer as SendBatcher's one-request interface (one request in flight at a time). */
export function batchProducerOf(producer: Producer): BatchProducer {
  return {
    sendBatch: ({ acks, topicMessages }) =>
      producer.send({
        acks,
        messages: topicMessages.flatMap((t) =>
          t.messages.map((m) => platformaticRecord(t.topic, m, m.partition)),
        ),
      }),
  };
}

/**
 * The command sender from the shared Kafka settings: many concurrent commands batched over one
 * idempotent producer (which connects on its first send), and how to close it.
 */
export function connectCommandSender(config: ConfigOf<typeof kafkaSettings>, clientId: string) {
  const producer = createPlatformaticProducer({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}.${clientId}`,
  });
  return {
    sender: new SendBatcher({ producer: batchProducerOf(producer), acks: -1 }),
    resource: { name: 'command-producer', close: () => producer.close() },
  };
}
