/**
 * commands: sustained command throughput through HTTP -> Kafka -> processor -> outcome, each
 * request answered synchronously with 201, beside a same-run baseline of bare kafkajs
 * transactional producers writing the same events, and a same-run peer: the same two commands
 * handled by Emmett (@event-driven-io/emmett-postgresql) on the stack's PostgreSQL with the same
 * decider, behind an equivalent Fastify route (bench/src/peer).
 *
 * Baseline: one transactional producer per partition (as the processor has), each committing
 * transactions of up to 50 pre-encoded UserMessagePosted events (the processor's batch bound).
 * Command path: the real command API and command processor as their own processes on topics of
 * this run, clients posting messages to 2,000 conversations.
 * Peer: after Parley's processes have stopped (so they do not share the CPU), the peer command
 * API as its own process on a database of its own, measured as the command path is: the same
 * token, 2,000 conversations of its own, the same message and phases.
 *
 * Each side is measured twice: at peak (closed loop, the best of several concurrencies) and at
 * half of its own peak (open loop, latency taken from each request's scheduled start, so a stall
 * counts against every request queued behind it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createKafka,
  createProducer,
  createTopics,
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
import { createDatabase, postgresCpuSeconds } from '../peer/database.ts';

const PARTITIONS = 6;
const EVENTS_PER_TRANSACTION = 50;
const CONVERSATIONS = 2_000;
const CONCURRENCIES = [64, 256, 512];
const PEAK_SECONDS = 10;
const HALF_PEAK_SECONDS = 15;
const PEER = 'emmett-postgresql 0.42.0';
const PEER_DATABASE = 'parley_bench_emmett';
/** Connections of the peer's event store pool (the platform's default pool size). */
const PEER_POOL = 10;
/** How often the peer retries an append refused for a version conflict. */
const PEER_CONFLICT_RETRIES = 10;
const PEER_NOTE =
  "The command API's HTTP base, token checks (revoked accounts included), TypeBox schemas, " +
  "validTitle/validMessage, AES-GCM encryption under the owner's data key, daily quota check " +
  "and message count in Redis, and answer; the command processor's decider (runDecider with " +
  'decideConversation and evolveConversation). Each command reads and folds its whole stream ' +
  '(Emmett keeps no state between commands, no snapshots) and appends expecting the version ' +
  'read, in one PostgreSQL transaction: 4 round trips (read, begin, append function, commit). ' +
  'So its cost grows with the conversations: every phase posts to the same 2,000, which hold ' +
  'more events in each later phase. A version conflict is retried up to ' +
  `${PEER_CONFLICT_RETRIES} times with Emmett's backoff (from 100 ms, x1.5); versionConflicts ` +
  `counts them. Event store pool: ${PEER_POOL} connections. Left out: Idempotency-Key ` +
  'deduplication (a retried create is 409, a retried post is posted again), outcome ' +
  'publication and GET /v1/commands/:id, the OpenAPI document, CORS origins. ' +
  'coresBusy.postgres: every PostgreSQL process on the machine.';
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

/** A command path's processes by name, for the cores each keeps busy. */
type Measured = Record<string, { cpuSeconds(): number }>;

/**
 * One command path measured: 2,000 conversations started through it, then messages posted to
 * them in turn, at peak (each concurrency, with the cores each of `processes` and the load
 * generator kept busy) and at half of the best peak.
 */
async function measureCommandPath(
  url: string,
  authorization: string,
  label: string,
  processes: Measured,
) {
  const pool = new Pool(url, { connections: 512, pipelining: 1 });
  const headers = { authorization, 'content-type': 'application/json' };
  /** Answers other than 201 by status: a phase where most requests fail measures nothing. */
  const refusals = new Map<number, number>();
  const checkRefusals = (phase: Phase, what: string) => {
    if (phase.failures > phase.events) {
      throw new Error(
        `${label}: ${what}: ${phase.failures} requests failed, ${phase.events} succeeded (statuses ${JSON.stringify(Object.fromEntries(refusals))})`,
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

  try {
    process.stderr.write(`${label}: starting ${CONVERSATIONS} conversations\n`);
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
            throw new Error(`${label}: could not start a conversation: ${JSON.stringify(body)}`);
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
      const before = Object.entries(processes).map(([name, p]) => ({
        name,
        p,
        cpu: p.cpuSeconds(),
      }));
      const own = process.cpuUsage();
      const phase = await closedLoop(concurrency, PEAK_SECONDS, async () =>
        (await postMessage()) ? 1 : 0,
      );
      const used = process.cpuUsage(own);
      const cpuPerSecond = {
        ...Object.fromEntries(
          before.map(({ name, p, cpu }) => [name, round((p.cpuSeconds() - cpu) / PEAK_SECONDS)]),
        ),
        loadGenerator: round((used.user + used.system) / 1e6 / PEAK_SECONDS),
      };
      process.stderr.write(
        `${label}: ${concurrency} clients: ${phase.eventsPerSec} commands/s, p99 ${phase.latencyMs.p99} ms, cores busy ${JSON.stringify(cpuPerSecond)}\n`,
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
      `${label}: at ${Math.round(peak.eventsPerSec / 2)}/s: p99 ${halfPeak.latencyMs.p99} ms\n`,
    );
    return { peaks, peak, halfPeak };
  } finally {
    await pool.close();
  }
}

/** A counter's value in a service's /metrics (summed over its labels), or null without one. */
async function counter(url: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))];
  return values.length === 0 ? null : values.reduce((sum, [, value]) => sum + Number(value), 0);
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
  let database: Awaited<ReturnType<typeof createDatabase>> | undefined;
  try {
    await reconcileTopics(admin, catalogue, { repairConfig: false });
    await createTopics(admin, [{ topic: baselineTopic, numPartitions: PARTITIONS }]);
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
      // One user posts every message: the daily quota and the per-user rate limit are not what
      // this measures.
      QUOTA_MESSAGES_PER_DAY: 'user=1000000000',
      WRITE_RATE_LIMIT_PER_MINUTE: '1000000',
    };
    // PARLEY_BENCH_PROFILE=1 writes CPU profiles of every process (the peer too) to .data/profiles.
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

    const authorization = `Bearer ${signToken(key, { sub: randomUUID(), expiresIn: 3600 })}`;
    const parley = await measureCommandPath(api.url, authorization, 'commands', {
      commandApi: api,
      commandProcessor: processor,
    });
    const { peak, halfPeak } = parley;
    const rss = { commandApi: api.peakRssBytes(), commandProcessor: processor.peakRssBytes() };

    // Parley's processes end before the peer starts: the two never share the CPU.
    await stopServices(services.splice(0), 'commands');
    process.stderr.write(`commands: peer (${PEER})\n`);
    database = await createDatabase(context.config, PEER_DATABASE);
    const peer = await startService(
      `${repo}bench/src/peer/emmett-command-api.ts`,
      {
        ...env,
        EVENT_STORE_URL: database.url,
        EVENT_STORE_POOL_MAX: String(PEER_POOL),
        VERSION_CONFLICT_RETRIES: String(PEER_CONFLICT_RETRIES),
      },
      'bench-emmett-command-api',
      nodeArgs,
    );
    services.push(peer);
    await peer.ready();
    const peerPath = await measureCommandPath(peer.url, authorization, 'commands (peer)', {
      emmettCommandApi: peer,
      postgres: { cpuSeconds: postgresCpuSeconds },
    });
    const peerRss = peer.peakRssBytes();
    const versionConflicts = await counter(peer.url, 'emmett_version_conflicts_total');
    await stopServices(services.splice(0), 'commands');

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
      commands: parley,
      peer: { name: PEER, note: PEER_NOTE, ...peerPath, versionConflicts },
      ratioEventsPerSecToBaseline:
        Math.round((peak.eventsPerSec / base.peak.eventsPerSec) * 1000) / 1000,
      ratioP99AtHalfPeakToBaseline:
        Math.round((halfPeak.latencyMs.p99 / base.halfPeak.latencyMs.p99) * 100) / 100,
      ratioEventsPerSecToPeer:
        Math.round((peak.eventsPerSec / peerPath.peak.eventsPerSec) * 1000) / 1000,
      ratioP99AtHalfPeakToPeer:
        Math.round((halfPeak.latencyMs.p99 / peerPath.halfPeak.latencyMs.p99) * 100) / 100,
      targets: {
        ratioEventsPerSecToBaseline: '>= 0.4',
        ratioP99AtHalfPeakToBaseline: '< 5',
        ratioEventsPerSecToPeer: '>= 1.0',
      },
      peakRssBytes: { ...rss, emmettCommandApi: peerRss, bench: peakRssBytes() },
    });
  } finally {
    await stopServices(services, 'commands');
    await database?.drop().catch(() => {});
    await admin
      .deleteTopics({ topics: [...catalogue.map((t) => t.name), baselineTopic] })
      .catch(() => {});
    await admin.deleteGroups([`${prefix}command-processor`]).catch(() => {});
    await admin.disconnect();
  }
}
