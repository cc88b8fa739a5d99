/**
 * The @platformatic/kafka client (pure JavaScript), measured beside kafkajs and librdkafka by the
 * kafka-clients benchmark. Made here so every Kafka client comes from platform/.
 */
import { Consumer, Producer, type ProducerOptions } from '@platformatic/kafka';

export type {
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
} from '@platformatic/kafka';

interface ClientOptions {
  brokers: string[];
  clientId: string;
}

export function createPlatformaticProducer(
  options: ClientOptions & { transactionalId?: string; retryDelayMs?: number },
): Producer {
  const producerOptions: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    clientId: options.clientId,
    bootstrapBrokers: options.brokers,
    idempotent: true,
    acks: -1,
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
