/**
 * The librdkafka client (@confluentinc/kafka-javascript, built from its bundled sources by
 * `npm ci`, see scripts/lib.sh) through its KafkaJS-shaped API. Made here so every Kafka client
 * comes from platform/; which paths use it is ADR 0030's.
 */

import type { KafkaJS } from '@confluentinc/kafka-javascript';
import confluent from '@confluentinc/kafka-javascript';
import type { Logger } from './logger.ts';

export type {
  Consumer as LibrdkafkaConsumer,
  EachBatchPayload as LibrdkafkaBatch,
  Kafka as LibrdkafkaKafka,
  Producer as LibrdkafkaProducer,
} from '@confluentinc/kafka-javascript/types/kafkajs.js';

/** The version of librdkafka the module was built with (for benchmark results). */
export const librdkafkaVersion: string = confluent.librdkafkaVersion;

export function createLibrdkafka(options: {
  brokers: string[];
  clientId: string;
  log: Logger;
}): KafkaJS.Kafka {
  const log = options.log.child({ component: 'librdkafka' });
  const write = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, extra?: object) =>
    log[level](extra ?? {}, message);
  return new confluent.KafkaJS.Kafka({
    kafkaJS: {
      brokers: options.brokers,
      clientId: options.clientId,
      logLevel: confluent.KafkaJS.logLevel.WARN,
      logger: {
        info: write('info'),
        error: write('error'),
        warn: write('warn'),
        debug: write('debug'),
        namespace: () => undefined as never,
        setLogLevel: () => {},
      },
    },
  });
}
