/**
 * kafka-clients: the three Kafka clients for Node measured on Parley's own Kafka paths, in one
 * run, against the same broker, with Parley's own records (ADR 0030 chooses by these figures).
 *
 * - send: the command API's send. Many concurrent callers each send one PostUserMessage command
 *   (idempotent, acks=all) and wait for it. kafkajs and platformatic go through Parley's
 *   SendBatcher (one request in flight, which their idempotent producers need); librdkafka takes
 *   every send at once and batches them itself.
 * - relay: the command processor's transaction. A consumer group reads pre-written commands
 *   (read_committed); each partition's chunk of up to 50 becomes one transaction of as many
 *   UserMessagePosted events plus the consumed offsets, from a transactional producer per
 *   partition. The processor's decide, state records and outcomes are left out: this is the Kafka
 *   part only.
 * - consume: the projectors' read. A consumer group reads transactionally written events
 *   (read_committed) and decodes each with Parley's Avro serde.
 *
 * Each path runs ROUNDS times per client, clients interleaved within a round; the figures are the
 * medians. CPU is this process's (user + system, every thread: librdkafka's are native threads),
 * in milliseconds per 1,000 messages.
 */
import { randomUUID } from 'node:crypto';
import {
  createKafka,
  createProducer,
  createTopics,
  createTransactionalKafka,
  type Kafka,
  type Message,
  retryConcurrentTransactions,
} from '@parley/platform/kafka';
import {
  createLibrdkafka,
  type LibrdkafkaConsumer,
  type LibrdkafkaKafka,
  type LibrdkafkaProducer,
  librdkafkaVersion,
} from '@parley/platform/kafka-librdkafka';
import {
  batchProducerOf,
  createPlatformaticConsumer,
  createPlatformaticProducer,
  type PlatformaticProducer,
  platformaticRecord,
} from '@parley/platform/kafka-platformatic';
import { createLogger } from '@parley/platform/logger';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { type BatchProducer, SendBatcher } from '@parley/platform/send-batcher';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import type { BenchContext } from '../context.ts';
import { closedLoop, within } from '../load.ts';
import { type Percentiles, peakRssBytes, writeResult } from '../measure.ts';
import { messageCommands, messageEvents } from '../records.ts';

const PARTITIONS = 6;
const ROUNDS = 3;
const SEND_CONCURRENCY = 256;
const SEND_SECONDS = 8;
const RELAY_COMMANDS = 30_000;
const EVENTS_PER_TRANSACTION = 50;
const CONSUME_EVENTS = 200_000;
/** How long one path of one client may take before the run fails instead of hanging. */
const PATH_TIMEOUT_MS = 180_000;
/** platformatic's retry delay for the transaction path: its 250 ms default waits out every CONCURRENT_TRANSACTIONS. */
const PLATFORMATIC_TRANSACTION_RETRY_MS = 5;

const CLIENTS = ['kafkajs', 'librdkafka', 'platformatic'] as const;
type ClientName = (typeof CLIENTS)[number];

interface Measured {
  messagesPerSec: number;
  cpuMsPer1000: number;
  messages: number;
  failures: number;
  latencyMs?: Percentiles;
}

interface Clients {
  kafkajs: Kafka;
  transactional: Kafka;
  librdkafka: LibrdkafkaKafka;
  brokers: string[];
  serde: AvroSerde;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** A promise with its settle functions (Promise.withResolvers is Node 22). */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits yet must not end the process: it is awaited where it matters.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Runs `work` (which returns how many messages it handled) and measures rate and CPU. */
async function measured(
  work: () => Promise<{ messages: number; failures?: number; latencyMs?: Percentiles }>,
) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { messages, failures = 0, latencyMs } = await work();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    messagesPerSec: Math.round((messages / ms) * 1000),
    cpuMsPer1000: round1(((used.user + used.system) / 1000 / messages) * 1000),
    messages,
    failures,
    ...(latencyMs ? { latencyMs } : {}),
  } satisfies Measured;
}

/** Leaves platformatic's consumer group at once (its promise overload is shadowed by the callback one). */
const closeForcibly = (consumer: ReturnType<typeof createPlatformaticConsumer>) =>
  new Promise<void>((resolve) => consumer.close(true, () => resolve()));

/** librdkafka refuses a header without a value, which kafkajs leaves out. */
function librdkafkaRecord(message: Message) {
  const headers: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = value as string | Buffer;
  }
  return { key: message.key ?? null, value: message.value, headers, partition: message.partition };
}

// ---------------------------------------------------------------------------------------------
// send: the command API's send

async function sendPath(client: ClientName, clients: Clients, topic: string, commands: Message[]) {
  let next = 0;
  let firstError: unknown;
  const { producer, close } = await sendProducer(client, clients);
  const batcher = new SendBatcher({ producer });
  try {
    const result = await measured(async () => {
      const phase = await closedLoop(SEND_CONCURRENCY, SEND_SECONDS, async () => {
        try {
          await batcher.send(topic, commands[next++ % commands.length] as Message);
          return 1;
        } catch (error) {
          firstError ??= error;
          throw error;
        }
      });
      return { messages: phase.events, failures: phase.failures, latencyMs: phase.latencyMs };
    });
    if (firstError !== undefined) {
      throw new Error(`send ${client}: ${result.failures} sends failed`, { cause: firstError });
    }
    return result;
  } finally {
    await close();
  }
}

/** Each client's idempotent producer behind the batcher's one-request interface. */
async function sendProducer(
  client: ClientName,
  clients: Clients,
): Promise<{ producer: BatchProducer; close: () => Promise<void> }> {
  if (client === 'kafkajs') {
    const producer = createProducer(clients.kafkajs, { idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    return { producer, close: () => producer.disconnect() };
  }
  if (client === 'librdkafka') {
    const producer = clients.librdkafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    await producer.connect();
    return {
      producer: {
        sendBatch: ({ topicMessages }) =>
          producer.sendBatch({
            topicMessages: topicMessages.map((t) => ({
              topic: t.topic,
              messages: t.messages.map(librdkafkaRecord),
            })),
          }),
      },
      close: () => producer.disconnect(),
    };
  }
  const producer = createPlatformaticProducer({ brokers: clients.brokers, clientId: 'bench' });
  return { producer: batchProducerOf(producer), close: () => producer.close() };
}

// ---------------------------------------------------------------------------------------------
// relay: the command processor's transaction (consume, then events and offsets in one transaction)

interface RelayRun {
  input: string;
  output: string;
  groupId: string;
  events: Message[];
}

/** Chunks of up to EVENTS_PER_TRANSACTION, with the events each chunk appends. */
function chunks<T>(messages: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < messages.length; i += EVENTS_PER_TRANSACTION) {
    out.push(messages.slice(i, i + EVENTS_PER_TRANSACTION));
  }
  return out;
}

function eventsFor(run: RelayRun, count: number, partition: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    ...(run.events[(partition * 7919 + i) % run.events.length] as Message),
    partition,
  }));
}

/** Made on first use for a partition, kept for the run, closed together. */
function perPartition<P>(
  make: (partition: number) => Promise<P>,
  close: (made: P) => Promise<void>,
) {
  const made = new Map<number, Promise<P>>();
  return {
    of(partition: number): Promise<P> {
      let one = made.get(partition);
      if (!one) {
        one = make(partition);
        made.set(partition, one);
      }
      return one;
    },
    closeAll: () =>
      Promise.all([...made.values()].map(async (one) => close(await one).catch(() => {}))),
  };
}

interface KafkajsShapedBatch {
  batch: { partition: number; messages: ReadonlyArray<{ offset: string }> };
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
}

/**
 * The eachBatch of both KafkaJS-shaped clients: one transaction (`commit`) per chunk of a
 * partition's batch, its offset resolved after it, until RELAY_COMMANDS are relayed.
 */
function relayBatches(
  commit: (partition: number, nextOffset: string, events: number) => Promise<void>,
) {
  let relayed = 0;
  const done = deferred();
  return {
    eachBatch: async ({ batch, resolveOffset, heartbeat }: KafkajsShapedBatch) => {
      for (const chunk of chunks(batch.messages)) {
        const last = chunk.at(-1)?.offset as string;
        try {
          await commit(batch.partition, String(Number(last) + 1), chunk.length);
        } catch (error) {
          done.reject(error);
          throw error;
        }
        resolveOffset(last);
        await heartbeat();
        relayed += chunk.length;
        if (relayed >= RELAY_COMMANDS) done.resolve();
      }
    },
    finished: async () => {
      await done.promise;
      return { messages: relayed };
    },
  };
}

async function relayKafkajs(clients: Clients, run: RelayRun) {
  const producers = perPartition(
    async (partition) => {
      const producer = createProducer(clients.transactional, {
        transactionalId: `${run.groupId}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      return producer;
    },
    (producer) => producer.disconnect(),
  );
  const consumer = clients.kafkajs.consumer({
    groupId: run.groupId,
    readUncommitted: false,
    maxBytesPerPartition: 1024 * 1024,
  });
  const relay = relayBatches(async (partition, offset, events) => {
    const transaction = await (await producers.of(partition)).transaction();
    try {
      await transaction.send({
        topic: run.output,
        acks: -1,
        messages: eventsFor(run, events, partition),
      });
      await retryConcurrentTransactions(() =>
        transaction.sendOffsets({
          consumerGroupId: run.groupId,
          topics: [{ topic: run.input, partitions: [{ partition, offset }] }],
        }),
      );
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [run.input], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: relay.eachBatch,
    });
    return await relay.finished();
  } finally {
    await consumer.disconnect();
    await producers.closeAll();
  }
}

async function relayLibrdkafka(clients: Clients, run: RelayRun) {
  const producers = perPartition(
    async (partition) => {
      const producer: LibrdkafkaProducer = clients.librdkafka.producer({
        kafkaJS: {
          transactionalId: `${run.groupId}.${partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
        },
      });
      await producer.connect();
      return producer;
    },
    (producer) => producer.disconnect(),
  );
  const consumer: LibrdkafkaConsumer = clients.librdkafka.consumer({
    kafkaJS: {
      groupId: run.groupId,
      fromBeginning: true,
      autoCommit: false,
      readUncommitted: false,
    },
    'js.consumer.max.batch.size': -1,
  });
  const relay = relayBatches(async (partition, offset, events) => {
    const transaction = await (await producers.of(partition)).transaction();
    try {
      await transaction.send({
        topic: run.output,
        messages: eventsFor(run, events, partition).map(librdkafkaRecord),
      });
      // librdkafka takes the group from a joined consumer, not from a group id.
      await transaction.sendOffsets({
        consumer,
        topics: [{ topic: run.input, partitions: [{ partition, offset }] }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [run.input] });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: relay.eachBatch,
    });
    return await relay.finished();
  } finally {
    await consumer.disconnect();
    await producers.closeAll();
  }
}

async function relayPlatformatic(clients: Clients, run: RelayRun, written: Map<number, number>) {
  const producers = perPartition(
    async (partition): Promise<PlatformaticProducer> =>
      createPlatformaticProducer({
        brokers: clients.brokers,
        clientId: 'bench',
        transactionalId: `${run.groupId}.${partition}`,
        retryDelayMs: PLATFORMATIC_TRANSACTION_RETRY_MS,
      }),
    (producer) => producer.close(),
  );
  const consumer = createPlatformaticConsumer({
    brokers: clients.brokers,
    clientId: 'bench',
    groupId: run.groupId,
  });
  type Consumed =
    Awaited<ReturnType<typeof consumer.consume>> extends AsyncIterable<infer M> ? M : never;
  // A partition's transactions one after another; partitions side by side.
  const tails = new Map<number, Promise<void>>();
  const buffers = new Map<number, Consumed[]>();
  const seen = new Map<number, number>();
  let relayed = 0;
  let failed: unknown;
  const commit = async (partition: number, chunk: Consumed[]) => {
    const transaction = await (await producers.of(partition)).beginTransaction();
    try {
      await transaction.addConsumer(consumer);
      await transaction.send({
        messages: eventsFor(run, chunk.length, partition).map((m) =>
          platformaticRecord(run.output, m, partition),
        ),
      });
      await transaction.addOffset(chunk.at(-1) as Consumed);
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
    relayed += chunk.length;
  };
  const stream = await consumer.consume({
    topics: [run.input],
    mode: 'earliest',
    autocommit: false,
    isolationLevel: 1,
    maxWaitTime: 100,
  });
  try {
    for await (const message of stream) {
      if (failed) throw failed;
      const { partition } = message;
      const buffer = buffers.get(partition) ?? [];
      buffer.push(message);
      buffers.set(partition, buffer);
      const count = (seen.get(partition) ?? 0) + 1;
      seen.set(partition, count);
      if (buffer.length === EVENTS_PER_TRANSACTION || count === written.get(partition)) {
        buffers.set(partition, []);
        const tail = (tails.get(partition) ?? Promise.resolve()).then(() =>
          commit(partition, buffer),
        );
        tail.catch((error: unknown) => {
          failed = error;
        });
        tails.set(partition, tail);
      }
      if ([...seen.values()].reduce((a, b) => a + b, 0) >= RELAY_COMMANDS) break;
    }
    await Promise.all(tails.values());
    return { messages: relayed };
  } finally {
    await stream.close().catch(() => {});
    await closeForcibly(consumer);
    await producers.closeAll();
  }
}

// ---------------------------------------------------------------------------------------------
// consume: the projectors' read_committed consume and decode

async function consumePath(client: ClientName, clients: Clients, topic: string) {
  const groupId = `bench.consume.${client}.${randomUUID()}`;
  let decoded = 0;
  const decode = async (value: Buffer | null) => {
    if (value) await clients.serde.decode(value);
    decoded += 1;
  };
  if (client === 'kafkajs') {
    const consumer = clients.kafkajs.consumer({
      groupId,
      readUncommitted: false,
      maxBytesPerPartition: 1024 * 1024,
    });
    const done = deferred();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      return await measured(async () => {
        await consumer.run({
          autoCommit: false,
          partitionsConsumedConcurrently: PARTITIONS,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) await decode(message.value);
            if (decoded >= CONSUME_EVENTS) done.resolve();
          },
        });
        await done.promise;
        return { messages: decoded };
      });
    } finally {
      await consumer.disconnect();
    }
  }
  if (client === 'librdkafka') {
    const consumer = clients.librdkafka.consumer({
      kafkaJS: { groupId, fromBeginning: true, autoCommit: false, readUncommitted: false },
      'js.consumer.max.batch.size': -1,
    });
    const done = deferred();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      return await measured(async () => {
        await consumer.run({
          partitionsConsumedConcurrently: PARTITIONS,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) await decode(message.value);
            if (decoded >= CONSUME_EVENTS) done.resolve();
          },
        });
        await done.promise;
        return { messages: decoded };
      });
    } finally {
      await consumer.disconnect();
    }
  }
  const consumer = createPlatformaticConsumer({
    brokers: clients.brokers,
    clientId: 'bench',
    groupId,
  });
  try {
    return await measured(async () => {
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'earliest',
        autocommit: false,
        isolationLevel: 1,
        maxWaitTime: 100,
      });
      for await (const message of stream) {
        await decode(message.value);
        if (decoded >= CONSUME_EVENTS) break;
      }
      await stream.close();
      return { messages: decoded };
    });
  } finally {
    await closeForcibly(consumer);
  }
}

// ---------------------------------------------------------------------------------------------

/** Writes `messages` transactionally, `per` to a transaction, round-robin over the partitions. */
async function writeTransactionally(kafka: Kafka, topic: string, messages: Message[], per: number) {
  const producer = createProducer(kafka, {
    transactionalId: `${topic}.writer`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += per) {
      const transaction = await producer.transaction();
      await transaction.send({ topic, acks: -1, messages: messages.slice(i, i + per) });
      await transaction.commit();
    }
  } finally {
    await producer.disconnect();
  }
}

export async function kafkaClientsBench(context: BenchContext) {
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const brokers = context.config.KAFKA_BROKERS;
  const kafka = createKafka({ brokers, clientId: 'bench', log });
  const admin = kafka.admin();
  await admin.connect();
  const registry = schemaRegistryOptions(context.config);
  const schemas = loadSchemaSet();
  await registerSchemas(createSchemaRegistry(registry), registry, schemas);
  const clients: Clients = {
    kafkajs: kafka,
    transactional: createTransactionalKafka({ brokers, clientId: 'bench', log }),
    librdkafka: createLibrdkafka({ brokers, clientId: 'bench', log }),
    brokers,
    serde: new AvroSerde(createSchemaRegistry(registry), schemas),
  };
  const prefix = `bench${Date.now().toString(36)}.clients.`;
  const topics = {
    send: `${prefix}send`,
    relayIn: `${prefix}relay-in`,
    relayOut: `${prefix}relay-out`,
    consume: `${prefix}consume`,
  };
  const groups: string[] = [];
  try {
    await createTopics(
      admin,
      Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
    );
    process.stderr.write('kafka-clients: writing the commands and events the paths read\n');
    const commands = await messageCommands(clients.serde, 5_000, 2_000);
    const events = await messageEvents(clients.serde, 5_000);
    const relayInput = Array.from(
      { length: RELAY_COMMANDS },
      (_, i) => commands[i % commands.length] as Message,
    );
    await writeTransactionally(clients.transactional, topics.relayIn, relayInput, 500);
    const consumeInput = Array.from(
      { length: CONSUME_EVENTS },
      (_, i) => events[i % events.length] as Message,
    );
    await writeTransactionally(clients.transactional, topics.consume, consumeInput, 500);
    const writtenPerPartition = new Map(
      (await admin.fetchTopicOffsets(topics.relayIn)).map((p) => [
        p.partition,
        Number(p.high) - Number(p.low),
      ]),
    );

    const rounds: Record<'send' | 'relay' | 'consume', Record<ClientName, Measured[]>> = {
      send: { kafkajs: [], librdkafka: [], platformatic: [] },
      relay: { kafkajs: [], librdkafka: [], platformatic: [] },
      consume: { kafkajs: [], librdkafka: [], platformatic: [] },
    };
    const report = (path: string, client: string, m: Measured) =>
      process.stderr.write(
        `kafka-clients: ${path} ${client}: ${m.messagesPerSec} msgs/s, ${m.cpuMsPer1000} CPU ms per 1,000\n`,
      );
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`kafka-clients: round ${round} of ${ROUNDS}\n`);
      for (const client of CLIENTS) {
        const m = await within(
          sendPath(client, clients, topics.send, commands),
          PATH_TIMEOUT_MS,
          `send ${client}`,
        );
        rounds.send[client].push(m);
        report('send', client, m);
      }
      for (const client of CLIENTS) {
        const groupId = `${prefix}relay.${client}.${round}`;
        groups.push(groupId);
        const run = { input: topics.relayIn, output: topics.relayOut, groupId, events };
        const m = await within(
          measured(() =>
            client === 'kafkajs'
              ? relayKafkajs(clients, run)
              : client === 'librdkafka'
                ? relayLibrdkafka(clients, run)
                : relayPlatformatic(clients, run, writtenPerPartition),
          ),
          PATH_TIMEOUT_MS,
          `relay ${client}`,
        );
        rounds.relay[client].push(m);
        report('relay', client, m);
      }
      for (const client of CLIENTS) {
        const m = await within(
          consumePath(client, clients, topics.consume),
          PATH_TIMEOUT_MS,
          `consume ${client}`,
        );
        rounds.consume[client].push(m);
        report('consume', client, m);
      }
    }

    const summary = (measures: Measured[]) => ({
      messagesPerSec: median(measures.map((m) => m.messagesPerSec)),
      cpuMsPer1000: median(measures.map((m) => m.cpuMsPer1000)),
      ...(measures[0]?.latencyMs
        ? { latencyMsP99: median(measures.map((m) => m.latencyMs?.p99 ?? 0)) }
        : {}),
      rounds: measures,
    });
    const paths = Object.fromEntries(
      Object.entries(rounds).map(([path, byClient]) => [
        path,
        Object.fromEntries(CLIENTS.map((c) => [c, summary(byClient[c])])),
      ]),
    ) as Record<keyof typeof rounds, Record<ClientName, ReturnType<typeof summary>>>;
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const ratios = Object.fromEntries(
      (Object.keys(rounds) as Array<keyof typeof rounds>).flatMap((path) =>
        (['librdkafka', 'platformatic'] as const).flatMap((client) => {
          const name = `${path[0]?.toUpperCase()}${path.slice(1)}${client[0]?.toUpperCase()}${client.slice(1)}ToKafkajs`;
          return [
            [
              `ratioRate${name}`,
              ratio(paths[path][client].messagesPerSec, paths[path].kafkajs.messagesPerSec),
            ],
            [
              `ratioCpu${name}`,
              ratio(paths[path][client].cpuMsPer1000, paths[path].kafkajs.cpuMsPer1000),
            ],
          ];
        }),
      ),
    );
    return writeResult('kafka-clients', {
      setup: {
        partitions: PARTITIONS,
        rounds: ROUNDS,
        send: {
          concurrency: SEND_CONCURRENCY,
          seconds: SEND_SECONDS,
          record: 'PostUserMessage command',
        },
        relay: { commands: RELAY_COMMANDS, eventsPerTransaction: EVENTS_PER_TRANSACTION },
        consume: { events: CONSUME_EVENTS, record: 'UserMessagePosted event, Avro-decoded' },
        clients: {
          kafkajs: '2.2.4 (transactions from the processor client: 5 ms retry, ADR 0028)',
          librdkafka: `@confluentinc/kafka-javascript 1.10.1 (librdkafka ${librdkafkaVersion}), KafkaJS-shaped API, client defaults`,
          platformatic: `@platformatic/kafka 1.35.0 (transactions with a ${PLATFORMATIC_TRANSACTION_RETRY_MS} ms retry delay)`,
        },
        note: 'figures are medians of the rounds; CPU is the whole bench process (user + system, all threads) per 1,000 messages; the broker shares the machine',
      },
      paths,
      ...ratios,
      peakRssBytes: { bench: peakRssBytes() },
    });
  } finally {
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin.deleteGroups(groups).catch(() => {});
    await admin.disconnect();
  }
}
