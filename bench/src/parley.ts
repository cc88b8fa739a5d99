/**
 * Parley as deployed, for benchmarks: the command processor, the command API, the projectors and
 * the query API, each its own process, on topics and read models of one run (a TOPIC_PREFIX of
 * its own); `stop()` ends them and removes the topics, groups and read models they made. Plus
 * what the read benchmarks share: a JSON client, users (token subjects) and seeded conversations.
 */
import { randomUUID } from 'node:crypto';
import { createKafka } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { connectMongo } from '@parley/platform/mongo';
import { DataKeyStore, PersonalDataCipher } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { connectRedis } from '@parley/platform/redis';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { redisReady } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import {
  DEAD_LETTER_GROUPS,
  prefixedTopicNames,
  topicCatalogue,
} from '@parley/schemas/topics/catalogue';
import { reconcileTopics } from '@parley/schemas/topics/reconcile';
import { Pool } from 'undici';
import { ASSISTANT_NODE_FLAGS } from '../../assistant/src/node-flags.ts';
import { PROJECTIONS } from '../../projectors/src/read-models/index.ts';
import type { Projection, Stores } from '../../projectors/src/runtime/projection.ts';
import { groupIdOf } from '../../projectors/src/runtime/runner.ts';
import type { BenchContext } from './context.ts';
import { sleep, within } from './load.ts';

export const REPO = new URL('../../', import.meta.url).pathname;
/** A 200-character user message, as the commands benchmark posts. */
export const MESSAGE_TEXT =
  'How do I make the most of a long weekend in Lisbon with two kids? '.repeat(3);

/** SIGTERM each service (last started first), wait for it a while, then make sure it is gone. */
export async function stopServices(services: readonly ServiceProcess[], label: string) {
  for (const service of [...services].reverse()) {
    service.signal('SIGTERM');
    const code = await Promise.race([service.exited, sleep(20_000).then(() => 'still running')]);
    process.stderr.write(`${label}: ${service.name} stopped: ${code}\n`);
    await service.kill9();
  }
}

/** Every generation of these projections' read models in a namespace, and their pointer rows. */
export async function dropReadModels(
  stores: Stores,
  namespace: string,
  projections: readonly Projection[],
) {
  const settle = (p: Promise<unknown>) => within(p, 15_000, 'drop').catch(() => {});
  for (const projection of projections) {
    const key = pointerKey(namespace, projection.name);
    const { rows } = await stores.pool
      .query<{ generation: number }>(
        'select generation from read.generations where projection = $1',
        [key],
      )
      .catch(() => ({ rows: [] as Array<{ generation: number }> }));
    for (const { generation } of rows) {
      await settle(projection.drop(stores, { projection: key, number: generation, namespace }));
    }
    await settle(stores.pool.query('delete from read.generations where projection = $1', [key]));
    await settle(stores.pool.query('delete from read.checkpoints where projection = $1', [key]));
  }
}

export interface Person {
  id: string;
  token: string;
}

export interface Conversation {
  id: string;
  owner: Person;
  /** The version its last command returned. */
  version: number;
}

/** JSON requests with a user's token over keep-alive connections (undici). */
export function apiClient(url: string, connections: number) {
  // A request unanswered for 30 s fails instead of holding its job (undici waits 300 s).
  const pool = new Pool(url, {
    connections,
    pipelining: 1,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const send = async (
    method: 'GET' | 'POST',
    path: string,
    token: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const json = options.body !== undefined;
    const response = await pool.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${token}`,
        ...(json ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(json ? { body: JSON.stringify(options.body) } : {}),
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      text: await response.body.text(),
    };
  };
  return {
    send,
    /** A command that must be answered 201: the aggregate and the version it reached. */
    async command(path: string, token: string, body: unknown) {
      const response = await send('POST', path, token, { body });
      if (response.status !== 201) {
        throw new Error(`POST ${path}: ${response.status} ${response.text.slice(0, 300)}`);
      }
      return JSON.parse(response.text) as { aggregateId: string; version: number };
    },
    close: () => pool.close(),
  };
}

/**
 * The query API's read counters from its /metrics: view reads by outcome (hit, miss, behind,
 * degraded), database reads and stale answers, as `view_reads.conversation.hit` and so on.
 */
export async function readCounters(queryApi: { url: string }): Promise<Record<string, number>> {
  const text = await (await fetch(`${queryApi.url}/metrics`)).text();
  const counters: Record<string, number> = {};
  const line = /^query_(view_reads|database_reads|stale_answers)_total\{([^}]*)\} (\S+)$/gm;
  for (const [, name, labels, value] of text.matchAll(line)) {
    const parts = [...(labels ?? '').matchAll(/(\w+)="([^"]*)"/g)]
      .filter((m) => m[1] !== 'service')
      .map((m) => m[2]);
    counters[[name, ...parts].join('.')] = Number(value);
  }
  return counters;
}

/** What the counters moved by between two readings. */
export function countersSince(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
      .filter(([, delta]) => delta > 0),
  );
}

export interface ParleyOptions {
  /** Names the run's TOPIC_PREFIX (`bench<label><time>.`), its logs and progress lines. */
  label: string;
  partitions: number;
  /** What the projectors run (PROJECTIONS). */
  projections: readonly string[];
  /** Extra environment of the query API. */
  queryApiEnv?: Record<string, string>;
  /** Runs the assistant reactor too, with this extra environment. */
  assistantEnv?: Record<string, string>;
}

export type Parley = Awaited<ReturnType<typeof startParley>>;

export async function startParley(context: BenchContext, options: ParleyOptions) {
  const { label } = options;
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench${label}${Date.now().toString(36)}.`;
  const namespace = namespaceOf(prefix);
  const names = prefixedTopicNames(prefix);
  const catalogue = topicCatalogue({
    environment: 'dev',
    partitions: options.partitions,
    prefix,
    deadLetterGroups: DEAD_LETTER_GROUPS,
  });
  const projections = PROJECTIONS.filter((p) => options.projections.includes(p.name));
  const projectorGroups = projections.map((p) =>
    groupIdOf(p, { projection: pointerKey(namespace, p.name), number: 1, namespace }),
  );
  const processorGroup = `${prefix}command-processor`;
  const postgres = connectPostgres(context.config as never, 'bench');
  const mongo = connectMongo(context.config as never, 'bench');
  const redis = connectRedis(context.config as never, 'bench');
  const stores: Stores = {
    pool: postgres.pool,
    mongo: mongo.mongo,
    redis: redis.redis,
    cipher: new PersonalDataCipher(new DataKeyStore(postgres.pool, Buffer.alloc(32))),
  };
  const services: ServiceProcess[] = [];

  const stop = async () => {
    await stopServices(services, label);
    await admin.deleteTopics({ topics: catalogue.map((t) => t.name) }).catch(() => {});
    await admin
      .deleteGroups([
        processorGroup,
        `${prefix}command-api.identity-store`,
        `${prefix}assistant`,
        ...projectorGroups,
      ])
      .catch(() => {});
    await within(redisReady(redis.redis), 10_000, 'Redis').catch(() => {});
    await dropReadModels(stores, namespace, projections);
    await admin.disconnect();
    await postgres.resource.close();
    await within(mongo.resource.close(), 15_000, 'closing MongoDB').catch(() => {});
    await redis.resource.close();
  };

  const key = createSigningKey();
  const keyEnv = serviceKeyEnv(key);
  // PARLEY_BENCH_PROFILE=1 writes CPU profiles of every service to .data/profiles.
  const nodeArgs = process.env.PARLEY_BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${REPO}.data/profiles`]
    : [];
  const start = async (
    entry: string,
    env: Record<string, string>,
    name: string,
    flags: readonly string[] = [],
  ) => {
    const service = await startService(
      `${REPO}${entry}`,
      { TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn', PARLEY_ENV: 'dev', ...env },
      `bench-${name}`,
      [...flags, ...nodeArgs],
    );
    services.push(service);
    return service;
  };
  try {
    await reconcileTopics(admin, catalogue, { repairConfig: false });
    const registry = schemaRegistryOptions(context.config);
    await registerSchemas(createSchemaRegistry(registry), registry, loadSchemaSet());
    const processor = await start(
      'command-api/src/processor/main.ts',
      { PROCESSOR_GROUP_ID: processorGroup },
      'command-processor',
    );
    const commandApi = await start(
      'command-api/src/server.ts',
      {
        ...keyEnv,
        COMMAND_OUTCOME_WAIT_MS: '10000',
        // Each benchmark user posts far more than a day's quota: quotas are not what these measure.
        QUOTA_MESSAGES_PER_DAY: 'user=1000000000',
        QUOTA_TOKENS_PER_DAY: 'user=1000000000',
        // Per user, as for reads below.
        WRITE_RATE_LIMIT_PER_MINUTE: '1000000',
      },
      'command-api',
    );
    const projectors = await start(
      'projectors/src/server.ts',
      {
        PROJECTIONS: options.projections.join(','),
        PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '',
        JWT_PUBLIC_KEYS: keyEnv.JWT_PUBLIC_KEYS ?? '',
      },
      'projectors',
    );
    const startQueryApi = () =>
      start(
        'query-api/src/server.ts',
        {
          JWT_PUBLIC_KEYS: keyEnv.JWT_PUBLIC_KEYS ?? '',
          // Per user and route; the benchmark's few users read far more than a person would.
          READ_RATE_LIMIT_PER_MINUTE: '1000000',
          ...options.queryApiEnv,
        },
        'query-api',
      );
    const queryApi = await startQueryApi();
    const assistant = options.assistantEnv
      ? await start(
          'assistant/src/server.ts',
          { PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '', ...options.assistantEnv },
          'assistant',
          ASSISTANT_NODE_FLAGS,
        )
      : undefined;
    await Promise.all(services.map((s) => s.ready()));
    process.stderr.write(`${label}: services ready on topics ${prefix}*\n`);
    const parley = {
      prefix,
      namespace,
      processor,
      commandApi,
      projectors,
      queryApi,
      assistant,
      admin,
      /** A fresh query API process in place of the current one; the old one's peak RSS. */
      async restartQueryApi() {
        const old = parley.queryApi;
        const peak = old.peakRssBytes();
        await stopServices([old], label);
        services.splice(services.indexOf(old), 1);
        parley.queryApi = await startQueryApi();
        await parley.queryApi.ready();
        return peak;
      },
      /** A user with a token the services accept (no registration: the reads need none). */
      person: (): Person => {
        const id = randomUUID();
        return { id, token: signToken(key, { sub: id, expiresIn: 6 * 3600 }) };
      },
      /**
       * Resolves once every projection has committed past the end of its topics (the last
       * record of a transactional partition is its commit marker, never delivered).
       */
      async caughtUp(timeoutMs: number) {
        const check = async () => {
          for (const [i, projection] of projections.entries()) {
            const groupId = projectorGroups[i] as string;
            for (const topic of projection.topics(names)) {
              const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
              const high = await admin.fetchTopicOffsets(topic);
              for (const { partition, high: end } of high) {
                const at = committed?.partitions.find((p) => p.partition === partition);
                if (Number(at?.offset ?? -1) < Number(end) - 1) return false;
              }
            }
          }
          return true;
        };
        await within(
          (async () => {
            while (!(await check())) await sleep(500);
          })(),
          timeoutMs,
          `${label}: projections catching up`,
        );
      },
      stop,
    };
    return parley;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Conversations with messages through the real write path: `users` people start
 * `perUser` conversations each, then post `messages` messages to each, `concurrency` requests
 * at a time. Every command must be answered 201.
 */
export async function seedConversations(
  parley: Parley,
  options: { users: number; perUser: number; messages: number; concurrency: number },
): Promise<Conversation[]> {
  const client = apiClient(parley.commandApi.url, options.concurrency);
  const people = Array.from({ length: options.users }, () => parley.person());
  const conversations: Conversation[] = [];
  const inParallel = async (count: number, task: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < count) await task(next++);
      }),
    );
  };
  try {
    await inParallel(options.users * options.perUser, async (i) => {
      const owner = people[i % people.length] as Person;
      const started = await client.command('/v1/conversations', owner.token, {
        title: `Plans ${i}`,
      });
      conversations.push({ id: started.aggregateId, owner, version: started.version });
    });
    await inParallel(conversations.length * options.messages, async (i) => {
      const conversation = conversations[i % conversations.length] as Conversation;
      const posted = await client.command(
        `/v1/conversations/${conversation.id}/messages`,
        conversation.owner.token,
        { text: MESSAGE_TEXT },
      );
      conversation.version = Math.max(conversation.version, posted.version);
    });
  } finally {
    await client.close();
  }
  return conversations;
}
