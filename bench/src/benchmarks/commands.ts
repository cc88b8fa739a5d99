/**
 * commands: sustained command throughput through HTTP -> Kafka -> processor -> outcome, each
 * request answered synchronously with 201, beside a same-run baseline of bare kafkajs
 * transactional producers writing the same events.
 *
 * Baseline: one transactional producer per partition (as the processor has), each committing
 * transactions of up to 50 pre-encoded UserMessagePosted events (the processor's batch bound).
 * Command path: the real command API and command processor as their own processes on topics of
 * this run, clients posting messages to 2,000 conversations.
 *
 * Each side is measured twice: at peak (closed loop, the best of several concurrencies) and at
 * half of its own peak (open loop, latency taken from each request's scheduled start, so a stall
 * counts against every request queued behind it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createKafka,
  createProducer,
  createTransactionalKafka,
  type Kafka,
  type Message,
} from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { topicCatalogue } from '@parley/schemas/topics/catalogue';
import { reconcileTopics } from '@parley/schemas/topics/reconcile';
import { Pool } from 'undici';
import type { BenchContext } from '../context.ts';
import { closedLoop, openLoop, sleep } from '../load.ts';
import { type Percentiles, peakRssBytes, writeResult } from '../measure.ts';
import { stopServices, MESSAGE_TEXT as TEXT } from '../parley.ts';

const PARTITIONS = 6;
const EVENTS_PER_TRANSACTION = 50;
const CONVERSATIONS = 2_000;
const CONCURRENCIES = [64, 256, 512];
const PEAK_SECONDS = 10;
const HALF_PEAK_SECONDS = 15;
const repo = new URL('../../../', import.meta.url).pathname;

const round = (n: number) => Math.round(n * 100) / 100;

interface Phase {
  eventsPerSec: number;
  latencyMs: Percentiles;
  events: number;
  failures: number;
}

/** Pre-encoded UserMessagePosted events, as the processor writes them. */
async function baselineEvents(serde: AvroSerde, count: number): Promise<Message[]> {
  const author = randomUUID();
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const aggregateId = randomUUID();
      const { payload } = await serde.encode('UserMessagePosted', {
        metadata: {
          eventId: randomUUID(),
          aggregateId,
          aggregateVersion: i + 2,
          occurredAt: Date.now(),
          correlationId: randomUUID(),
          causationId: randomUUID(),
          actor: `user:${author}`,
          tenantId: null,
        },
        messageId: randomUUID(),
        authorId: author,
        text: '',
        // As large as the API's encryption of TEXT makes it (AES-256-GCM: nonce and tag added).
        encryptedText: {
          keyId: randomUUID(),
          nonce: randomBytes(12),
          ciphertext: randomBytes(Buffer.byteLength(TEXT) + 16),
        },
      });
      return { key: aggregateId, value: payload };
    }),
  );
}

/** One transactional producer per partition committing batches of pre-encoded events. */
async function baseline(kafka: Kafka, topic: string, events: Message[]) {
  const producers = await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, partition) => {
      const producer = createProducer(kafka, {
        transactionalId: `${topic}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      return { producer, partition };
    }),
  );
  let next = 0;
  const commit = async (partition: number, size: number) => {
    const producer = producers[partition]?.producer;
    if (!producer) throw new Error(`no producer for partition ${partition}`);
    const messages = Array.from({ length: size }, () => {
      next = (next + 1) % events.length;
      return { ...(events[next] as Message), partition };
    });
    const transaction = await producer.transaction();
    try {
      await transaction.send({ topic, acks: -1, messages });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
  };

  // Peak: every producer commits full transactions back to back.
  const peak = await closedLoop(PARTITIONS, PEAK_SECONDS, async (partition) => {
    await commit(partition, EVENTS_PER_TRANSACTION);
    return EVENTS_PER_TRANSACTION;
  });

  // Half of peak: events arrive at a steady rate; each producer commits whatever has queued for
  // its partition (up to 50) as soon as its previous transaction is done.
  const queues = producers.map(() => [] as Array<() => void>);
  let arrivals = 0;
  let stopped = false;
  const drainers = producers.map(async ({ partition }) => {
    const queue = queues[partition] ?? [];
    while (!stopped || queue.length > 0) {
      if (queue.length === 0) {
        await sleep(1);
        continue;
      }
      const waiting = queue.splice(0, EVENTS_PER_TRANSACTION);
      await commit(partition, waiting.length);
      for (const done of waiting) done();
    }
  });
  const half = await openLoop(
    Math.round(peak.eventsPerSec / 2),
    HALF_PEAK_SECONDS,
    () =>
      new Promise<boolean>((resolve) => {
        queues[arrivals++ % PARTITIONS]?.push(() => resolve(true));
      }),
  );
  stopped = true;
  await Promise.all(drainers);
  await Promise.all(producers.map(({ producer }) => producer.disconnect()));
  return { peak, halfPeak: half };
}

export async function commandsBench(context: BenchContext) {
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench${Date.now().toString(36)}.`;
  const catalogue = topicCatalogue({ environment: 'dev', partitions: PARTITIONS, prefix });
  const baselineTopic = `${prefix}baseline-events`;
  const options = schemaRegistryOptions(context.config);
  const schemas = loadSchemaSet();
  const serde = new AvroSerde(createSchemaRegistry(options), schemas);
  const services: ServiceProcess[] = [];
  try {
    await reconcileTopics(admin, catalogue, { repairConfig: false });
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: baselineTopic, numPartitions: PARTITIONS }],
    });
    await registerSchemas(createSchemaRegistry(options), options, schemas);

    process.stderr.write('commands: baseline (bare transactional producers)\n');
    // The baseline's producers get the processor's retry timing (platform/src/kafka.ts).
    const transactional = createTransactionalKafka({
      brokers: context.config.KAFKA_BROKERS,
      clientId: 'bench',
      log,
    });
    const base = await baseline(transactional, baselineTopic, await baselineEvents(serde, 5_000));
    process.stderr.write(`commands: baseline peak ${base.peak.eventsPerSec} events/s\n`);

    // The command side as deployed: its two processes, on this run's topics.
    const key = createSigningKey();
    const env = {
      TOPIC_PREFIX: prefix,
      PROCESSOR_GROUP_ID: `${prefix}command-processor`,
      ...serviceKeyEnv(key),
      LOG_LEVEL: 'warn',
      PARLEY_ENV: 'dev',
      // One user posts every message: the daily quota is not what this measures.
      QUOTA_MESSAGES_PER_DAY: 'user=1000000000',
    };
    // PARLEY_BENCH_PROFILE=1 writes CPU profiles of both processes to .data/profiles.
    const nodeArgs = process.env.PARLEY_BENCH_PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${repo}.data/profiles`]
      : [];
    const processor = await startService(
      `${repo}command-api/src/processor/main.ts`,
      env,
      'bench-command-processor',
      nodeArgs,
    );
    services.push(processor);
    const api = await startService(
      `${repo}command-api/src/server.ts`,
      env,
      'bench-command-api',
      nodeArgs,
    );
    services.push(api);
    await Promise.all([processor.ready(), api.ready()]);

    const pool = new Pool(api.url, { connections: 512, pipelining: 1 });
    const authorization = `Bearer ${signToken(key, { sub: randomUUID(), expiresIn: 3600 })}`;
    const headers = { authorization, 'content-type': 'application/json' };
    /** Answers other than 201 by status: a phase where most requests fail measures nothing. */
    const refusals = new Map<number, number>();
    const checkRefusals = (phase: Phase, what: string) => {
      if (phase.failures > phase.events) {
        throw new Error(
          `${what}: ${phase.failures} requests failed, ${phase.events} succeeded (statuses ${JSON.stringify(Object.fromEntries(refusals))})`,
        );
      }
      refusals.clear();
    };
    const post = async (path: string, body: unknown): Promise<boolean> => {
      const response = await pool.request({
        method: 'POST',
        path,
        headers,
        body: JSON.stringify(body),
      });
      await response.body.dump();
      if (response.statusCode === 201) return true;
      refusals.set(response.statusCode, (refusals.get(response.statusCode) ?? 0) + 1);
      return false;
    };

    process.stderr.write(`commands: starting ${CONVERSATIONS} conversations\n`);
    const conversations: string[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (started < CONVERSATIONS) {
          started += 1;
          const response = await pool.request({
            method: 'POST',
            path: '/v1/conversations',
            headers,
            body: JSON.stringify({ title: 'bench' }),
          });
          const body = (await response.body.json()) as { aggregateId?: string };
          if (response.statusCode !== 201 || !body.aggregateId) {
            throw new Error(`could not start a conversation: ${JSON.stringify(body)}`);
          }
          conversations.push(body.aggregateId);
        }
      }),
    );

    let turn = 0;
    const postMessage = () =>
      post(`/v1/conversations/${conversations[turn++ % CONVERSATIONS]}/messages`, { text: TEXT });

    const peaks = [];
    for (const concurrency of CONCURRENCIES) {
      const cpu = [api.cpuSeconds(), processor.cpuSeconds(), process.cpuUsage()];
      const phase = await closedLoop(concurrency, PEAK_SECONDS, async () =>
        (await postMessage()) ? 1 : 0,
      );
      const used = process.cpuUsage(cpu[2] as NodeJS.CpuUsage);
      const cpuPerSecond = {
        commandApi: round((api.cpuSeconds() - (cpu[0] as number)) / PEAK_SECONDS),
        commandProcessor: round((processor.cpuSeconds() - (cpu[1] as number)) / PEAK_SECONDS),
        loadGenerator: round((used.user + used.system) / 1e6 / PEAK_SECONDS),
      };
      process.stderr.write(
        `commands: ${concurrency} clients: ${phase.eventsPerSec} commands/s, p99 ${phase.latencyMs.p99} ms, cores busy ${JSON.stringify(cpuPerSecond)}\n`,
      );
      checkRefusals(phase, `${concurrency} clients`);
      peaks.push({ ...phase, coresBusy: cpuPerSecond });
    }
    const peak = peaks.reduce((best, p) => (p.eventsPerSec > best.eventsPerSec ? p : best));
    const halfPeak: Phase = await openLoop(
      Math.round(peak.eventsPerSec / 2),
      HALF_PEAK_SECONDS,
      postMessage,
    );
    checkRefusals(halfPeak, 'half of the peak');
    process.stderr.write(
      `commands: at ${Math.round(peak.eventsPerSec / 2)}/s: p99 ${halfPeak.latencyMs.p99} ms\n`,
    );
    const rss = { commandApi: api.peakRssBytes(), commandProcessor: processor.peakRssBytes() };
    await pool.close();

    return writeResult('commands', {
      setup: {
        partitions: PARTITIONS,
        eventsPerTransaction: EVENTS_PER_TRANSACTION,
        conversations: CONVERSATIONS,
        messageBytes: TEXT.length,
        peakSeconds: PEAK_SECONDS,
        halfPeakSeconds: HALF_PEAK_SECONDS,
        concurrencies: CONCURRENCIES,
        note: 'one event per command (UserMessagePosted); API, processor, Kafka, Redis, registry and the load generator share the machine',
      },
      baseline: base,
      commands: { peaks, peak, halfPeak },
      ratioEventsPerSecToBaseline:
        Math.round((peak.eventsPerSec / base.peak.eventsPerSec) * 1000) / 1000,
      ratioP99AtHalfPeakToBaseline:
        Math.round((halfPeak.latencyMs.p99 / base.halfPeak.latencyMs.p99) * 100) / 100,
      targets: { ratioEventsPerSecToBaseline: '>= 0.4', ratioP99AtHalfPeakToBaseline: '< 5' },
      peakRssBytes: { ...rss, bench: peakRssBytes() },
    });
  } finally {
    await stopServices(services, 'commands');
    await admin
      .deleteTopics({ topics: [...catalogue.map((t) => t.name), baselineTopic] })
      .catch(() => {});
    await admin.deleteGroups([`${prefix}command-processor`]).catch(() => {});
    await admin.disconnect();
  }
}
