/**
 * projections: a realistic mix of events (default 1,000,000: registrations and profile changes on
 * the identity topic; conversations, messages and assistant replies on the chat topic) written
 * once; then each projection rebuilt from zero by the built projector CLI
 * (`projectors/dist/cli.js rebuild <name>`, its own process), beside a same-run baseline: a bare
 * kafkajs consumer reading and Avro-decoding the same topics, no store, measured first and again
 * right before each projection (its ratio is over that one). The MongoDB-wire server is also
 * measured alone, with a bare driver.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  createKafka,
  createProducer,
  createTopics,
  type Kafka,
  type Message,
} from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { migrate } from '@parley/platform/migrate';
import { connectMongo, type MongoClient } from '@parley/platform/mongo';
import { DataKeyStore, PersonalDataCipher } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { namespaceOf } from '@parley/platform/read-model-names';
import { connectRedis } from '@parley/platform/redis';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import type { RecordName } from '@parley/schemas/generated/records';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { CONTEXTS, DEAD_LETTER_GROUPS, prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import {
  IDENTITY_MIGRATIONS,
  IDENTITY_SCHEMA,
} from '../../../command-api/src/identity/store-schema.ts';
import { PROJECTOR_NODE_FLAGS } from '../../../projectors/src/node-flags.ts';
import { REPLACES_PER_COMMAND } from '../../../projectors/src/read-models/conversations/projection.ts';
import { PROJECTIONS } from '../../../projectors/src/read-models/index.ts';
import type { BenchContext } from '../context.ts';
import { peakRssBytes, progress, rate, writeResult } from '../measure.ts';
import { dropReadModels } from '../parley.ts';

const PARTITIONS = 6;
/** A rebuild that has not finished by then is reported as failed and the next one runs. */
const REBUILD_TIMEOUT_MS = 5 * 60_000;
/** Clean-up must not hang on a store that stopped answering. */
const within = <T>(p: Promise<T>, ms = 15_000) =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
const repo = new URL('../../../', import.meta.url).pathname;
const identity = CONTEXTS.find((c) => c.name === 'identity');
const chat = CONTEXTS.find((c) => c.name === 'chat');

/** Writes the mix in chunks (never all in memory), each aggregate's versions contiguous. */
export async function writeMix(
  kafka: Kafka,
  serde: AvroSerde,
  cipher: PersonalDataCipher,
  topics: { users: string; chat: string },
  total: number,
) {
  const producer = createProducer(kafka, { idempotent: true });
  await producer.connect();
  const versions = new Map<string, number>();
  const bar = progress('projections: writing events');
  let written = 0;
  let pending: Array<{ topic: string; message: Promise<Message> }> = [];
  const flush = async () => {
    const resolved = await Promise.all(
      pending.map(async (p) => ({ topic: p.topic, message: await p.message })),
    );
    pending = [];
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of resolved)
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    bar.update(written, total);
  };
  const event = async (
    topic: string,
    type: RecordName,
    aggregateId: string,
    fields: () => Promise<Record<string, unknown>> | Record<string, unknown>,
  ) => {
    const version = (versions.get(aggregateId) ?? 0) + 1;
    versions.set(aggregateId, version);
    const metadata = {
      eventId: randomUUID(),
      aggregateId,
      aggregateVersion: version,
      occurredAt: Date.UTC(2026, 9, 1) + written * 200,
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: 'system:bench',
      tenantId: null,
    };
    written += 1;
    pending.push({
      topic,
      message: (async () => {
        const { payload } = await serde.encode(type, { metadata, ...(await fields()) } as never);
        return { key: aggregateId, value: payload };
      })(),
    });
    if (pending.length >= 5000) await flush();
  };
  // About 5% identity events, as in a chat product.
  const people = Array.from({ length: Math.max(100, Math.round(total / 100)) }, () => randomUUID());
  for (const [i, id] of people.entries()) {
    await event(topics.users, 'UserRegistered', id, async () => ({
      email: await cipher.encrypt(id, `person${i}@example.com`),
      displayName: await cipher.encrypt(id, `Person ${i}`),
      role: 'user',
      locale: null,
    }));
  }
  const conversations = Array.from({ length: Math.round(total / 50) }, (_, i) => ({
    id: randomUUID(),
    owner: people[i % people.length] as string,
  }));
  for (const c of conversations) {
    // What people write is encrypted under the owner's key, as the API sends it (ADR 0023): the
    // projections decrypt every title, message and reply.
    await event(topics.chat, 'ConversationStarted', c.id, async () => ({
      ownerId: c.owner,
      title: '',
      encryptedTitle: await cipher.encrypt(c.owner, 'Plans for the weekend'),
    }));
  }
  let n = 0;
  const tail = Math.round(total * 0.05) - people.length;
  while (written < total - tail) {
    const c = conversations[n++ % conversations.length] as { id: string; owner: string };
    const messageId = randomUUID();
    await event(topics.chat, 'UserMessagePosted', c.id, async () => ({
      messageId,
      authorId: c.owner,
      text: '',
      encryptedText: await cipher.encrypt(
        c.owner,
        `Where should we go on day ${n}? We like museums, food and walks.`,
      ),
    }));
    await event(topics.chat, 'AssistantReplyRecorded', c.id, async () => ({
      messageId: randomUUID(),
      replyTo: messageId,
      text: '',
      encryptedText: await cipher.encrypt(
        c.owner,
        'Start at the riverside market in the morning, then walk up to the old town for lunch.',
      ),
      model: 'bench:model',
      promptTokens: 120 + (n % 50),
      completionTokens: 200 + (n % 80),
      latencyMs: 900,
    }));
  }
  let u = 0;
  while (written < total) {
    const id = people[u++ % people.length] as string;
    await event(topics.users, 'UserProfileUpdated', id, async () => ({
      displayName: await cipher.encrypt(id, `Person renamed ${u}`),
      locale: 'en-GB',
    }));
  }
  await flush();
  bar.done();
  await producer.disconnect();
  return written;
}

/** Baseline: read the topics from offset zero and Avro-decode every record, no store. */
export async function consumeAndDecode(
  kafka: Kafka,
  serde: AvroSerde,
  topics: string[],
  total: number,
) {
  const consumer = kafka.consumer({
    groupId: `bench-baseline-${randomUUID()}`,
    maxBytes: 32 * 2 ** 20,
    maxBytesPerPartition: 4 * 2 ** 20,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  // Like the projections' rates: from the first batch, not from joining the group.
  let started = 0;
  let count = 0;
  const ended = await new Promise<number>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch, heartbeat }) => {
        if (started === 0) started = performance.now();
        // The cheapest decode there is: without a promise once the schema is known.
        for (const message of batch.messages) {
          if (message.value && !serde.decodeKnown(message.value)) await serde.decode(message.value);
        }
        count += batch.messages.length;
        await heartbeat();
        if (count >= total) resolve(performance.now());
      },
    });
  });
  await consumer.disconnect();
  return { events: count, eventsPerSec: rate(count, ended - started) };
}

interface RebuildRun {
  caughtUpPerSec: number;
  applied: number;
  peakRssBytes: number;
  seconds: number;
}

const progressLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, number | string>];
      } catch {
        return [];
      }
    });

/**
 * The real projector CLI, as deployed (the built JavaScript with the projector's Node flags),
 * rebuilding one projection: its JSON progress lines and final result. A rebuild cut off by the
 * time bound rejects with how far it got (`partial`).
 */
function rebuildWithCli(name: string, env: Record<string, string>) {
  return new Promise<RebuildRun>((resolve, reject) => {
    const started = performance.now();
    execFile(
      process.execPath,
      [
        ...PROJECTOR_NODE_FLAGS,
        // PARLEY_BENCH_PROFILE=1: a CPU profile of each rebuild in .data/profiles.
        ...(process.env.PARLEY_BENCH_PROFILE
          ? ['--cpu-prof', `--cpu-prof-dir=${repo}.data/profiles`]
          : []),
        `${repo}projectors/dist/cli.js`,
        'rebuild',
        name,
      ],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20, timeout: REBUILD_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const lines = progressLines(stdout);
        if (error) {
          const tail = `${stderr}${stdout}`.trim().split('\n').slice(-3).join(' | ');
          const last = lines.at(-1);
          return reject(
            Object.assign(
              new Error(`rebuild ${name} failed (${error.message.split('\n')[0]}): ${tail}`),
              last
                ? {
                    partial: {
                      applied: last.applied,
                      eventsPerSecond: last.eventsPerSecond,
                      peakRssBytes: last.peakRssBytes,
                    },
                  }
                : {},
            ),
          );
        }
        const caughtUp = lines.find((l) => l.phase === 'replaying' && l.lag === 0) ?? lines.at(-1);
        const final = lines.at(-1) ?? {};
        resolve({
          caughtUpPerSec: Number(caughtUp?.eventsPerSecond ?? 0),
          applied: Number(final.applied ?? 0),
          peakRssBytes: Number(final.peakRssBytes ?? 0),
          seconds: Math.round((performance.now() - started) / 100) / 10,
        });
      },
    );
  });
}

/** The projector as deployed: `npm run build` (tsc -b), so the benchmark runs the dist code. */
function buildProjector() {
  execFileSync('npm', ['run', '--silent', 'build'], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * What the MongoDB-wire server itself accepts, with no projection in front: a bare driver writing
 * message documents (insertMany, 1,000 a command) and replacing conversation documents by _id
 * (bulkWrite, as many a command as the projection sends), each for a few seconds. The
 * conversations projection writes one message per chat event and replaces a conversation for
 * about every other event, so these bound its rate on this server.
 */
async function mongoWireCeiling(mongo: MongoClient, namespace: string, seconds: number) {
  const db = mongo.db();
  const messages = db.collection(`${namespace}ceiling_messages`);
  const conversations = db.collection(`${namespace}ceiling_conversations`);
  const text = 'Start at the riverside market in the morning, then walk up to the old town.';
  const until = (ms: number) => performance.now() + ms;
  try {
    let inserted = 0;
    const insertStarted = performance.now();
    for (const end = until(seconds * 1000); performance.now() < end; ) {
      const docs = Array.from({ length: 1000 }, (_, i) => ({
        _id: randomUUID(),
        conversationId: randomUUID(),
        ownerId: randomUUID(),
        role: 'assistant',
        text,
        at: new Date(),
        seq: inserted + i,
      }));
      await messages.insertMany(docs as never[], { ordered: false });
      inserted += docs.length;
    }
    const insertsPerSec = rate(inserted, performance.now() - insertStarted);
    const ids = Array.from({ length: 2000 }, () => randomUUID());
    const doc = (id: string, version: number) => ({
      ownerId: id,
      title: 'Plans for the weekend',
      status: 'active',
      messageCount: version,
      lastMessage: { role: 'assistant', preview: text, at: new Date() },
      lastActivityAt: new Date(),
      createdAt: new Date(),
      version,
    });
    await conversations.insertMany(ids.map((id) => ({ _id: id, ...doc(id, 1) })) as never[], {
      ordered: false,
    });
    let replaced = 0;
    const replaceStarted = performance.now();
    for (let version = 2, end = until(seconds * 1000); performance.now() < end; version += 1) {
      for (let i = 0; i < ids.length && performance.now() < end; i += REPLACES_PER_COMMAND) {
        const slice = ids.slice(i, i + REPLACES_PER_COMMAND);
        await conversations.bulkWrite(
          slice.map((id) => ({
            replaceOne: {
              filter: { _id: id, version: version - 1 },
              replacement: doc(id, version),
            },
          })) as never[],
          { ordered: false },
        );
        replaced += slice.length;
      }
    }
    const replacesPerSec = rate(replaced, performance.now() - replaceStarted);
    // One insert per event and one replacement per two events, at best.
    const eventsPerSec = Math.round(1 / (1 / insertsPerSec + 0.5 / replacesPerSec));
    return { insertsPerSec, replacesPerSec, eventsPerSec };
  } finally {
    await messages.drop().catch(() => {});
    await conversations.drop().catch(() => {});
  }
}

export async function projectionsBench(context: BenchContext) {
  const total = context.events ?? 1_000_000;
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `benchp${Date.now().toString(36)}.`;
  const names = prefixedTopicNames(prefix);
  if (!identity || !chat) throw new Error('the topic catalogue lacks the identity or chat context');
  const topics = { users: names.events(identity), chat: names.events(chat) };
  const options = schemaRegistryOptions(context.config);
  const schemas = loadSchemaSet();
  const serde = new AvroSerde(createSchemaRegistry(options), schemas);
  const postgres = connectPostgres(context.config as never, 'bench');
  const mongo = connectMongo(context.config as never, 'bench');
  const redis = connectRedis(context.config as never, 'bench');
  const masterKey = Buffer.alloc(32, 7).toString('base64');
  const cipher = new PersonalDataCipher(
    new DataKeyStore(postgres.pool, Buffer.from(masterKey, 'base64')),
  );
  const namespace = namespaceOf(prefix);
  const dlq = DEAD_LETTER_GROUPS.map((g) => names.deadLetters(g));
  try {
    await registerSchemas(createSchemaRegistry(options), options, schemas);
    await migrate(postgres.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
    await createTopics(admin, [
      ...Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
      ...dlq.map((topic) => ({ topic, numPartitions: 1 })),
    ]);
    const written = await writeMix(kafka, serde, cipher, topics, total);
    const counts = {
      users: (await admin.fetchTopicOffsets(topics.users)).reduce((n, o) => n + Number(o.high), 0),
      chat: (await admin.fetchTopicOffsets(topics.chat)).reduce((n, o) => n + Number(o.high), 0),
    };
    process.stderr.write(
      `projections: ${written} events written (${counts.users} identity, ${counts.chat} chat)\n`,
    );
    const baseline = {
      identity: await consumeAndDecode(kafka, serde, [topics.users], counts.users),
      chat: await consumeAndDecode(kafka, serde, [topics.chat], counts.chat),
      both: await consumeAndDecode(
        kafka,
        serde,
        [topics.users, topics.chat],
        counts.users + counts.chat,
      ),
    };
    process.stderr.write(`projections: baseline ${JSON.stringify(baseline)}\n`);
    /** The MongoDB-wire server alone, measured right before the conversations projection. */
    let mongoWire:
      | { insertsPerSec: number; replacesPerSec: number; eventsPerSec: number }
      | undefined;
    let conversationsBaseline = baseline.chat.eventsPerSec;
    buildProjector();
    const env = { TOPIC_PREFIX: prefix, PII_MASTER_KEY: masterKey, LOG_LEVEL: 'warn' };
    const results: Record<string, unknown> = {};
    const ratios: Record<string, number> = {};
    /** A projection's baseline, measured again right before it: the machine drifts within a run. */
    const baselineFor = async (name: string) => {
      const [read, total] =
        name === 'users'
          ? [[topics.users], counts.users]
          : name === 'views'
            ? [[topics.users, topics.chat], counts.users + counts.chat]
            : [[topics.chat], counts.chat];
      // The median of three: one short read (50,000 identity events take a fifth of a second)
      // moved by half between two runs minutes apart.
      const rounds: number[] = [];
      for (let i = 0; i < 3; i++) {
        rounds.push((await consumeAndDecode(kafka, serde, read, total)).eventsPerSec);
      }
      const median = [...rounds].sort((a, b) => a - b)[1] ?? 0;
      return { eventsPerSec: median, rounds };
    };
    for (const projection of PROJECTIONS) {
      const base = await baselineFor(projection.name);
      if (projection.store === 'mongo') {
        mongoWire = await mongoWireCeiling(mongo.mongo, namespace, context.seconds ?? 10);
        conversationsBaseline = base.eventsPerSec;
        process.stderr.write(
          `projections: MongoDB-wire server alone ${JSON.stringify(mongoWire)}\n`,
        );
      }
      process.stderr.write(
        `projections: baseline before ${projection.name}: ${base.eventsPerSec}/s\n`,
      );
      const store =
        projection.store === 'mongo'
          ? 'MongoDB wire (SecantusDB 0.5.3-beta.196, Rust server)'
          : projection.store === 'redis'
            ? 'Redis'
            : 'PostgreSQL';
      const ratioKey = `ratio${projection.name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}ToBaseline`;
      const ratioOf = (perSec: number) => Math.round((perSec / base.eventsPerSec) * 1000) / 1000;
      const run = await rebuildWithCli(projection.name, env).catch((error: unknown) => {
        // Cut off by the time bound: the rate it kept until then, marked as not caught up.
        const partial = (
          error as {
            partial?: { applied: number; eventsPerSecond: number; peakRssBytes: number };
          }
        ).partial;
        results[projection.name] = {
          store,
          failed: String(error).slice(0, 300),
          ...(partial
            ? {
                notCaughtUp: true,
                applied: partial.applied,
                perSec: partial.eventsPerSecond,
                peakRssBytes: partial.peakRssBytes,
              }
            : {}),
          baselinePerSec: base.eventsPerSec,
        };
        if (partial) ratios[ratioKey] = ratioOf(Number(partial.eventsPerSecond));
        process.stderr.write(
          `projections: ${projection.name} failed: ${String(error).slice(0, 300)}\n`,
        );
        return undefined;
      });
      if (!run) continue;
      const ratio = ratioOf(run.caughtUpPerSec);
      results[projection.name] = {
        store,
        ...run,
        baselinePerSec: base.eventsPerSec,
        baselineRoundsPerSec: base.rounds,
      };
      ratios[ratioKey] = ratio;
      process.stderr.write(
        `projections: ${projection.name}: ${run.caughtUpPerSec}/s (${ratio} of baseline), peak RSS ${Math.round(run.peakRssBytes / 2 ** 20)} MB\n`,
      );
    }
    return writeResult('projections', {
      setup: {
        events: written,
        identityEvents: counts.users,
        chatEvents: counts.chat,
        partitions: PARTITIONS,
        note: `each projection rebuilt from offset zero by the built projector CLI in its own process (${PROJECTOR_NODE_FLAGS.join(' ')}); the rate is events applied per second until caught up; each ratio is over the baseline measured again right before that projection (its baselinePerSec, the median of three rounds), the top-level baseline is the first measurement`,
      },
      baseline,
      mongoWireServerAlone: {
        ...(mongoWire ?? {}),
        note: 'a bare driver writing to the MongoDB-wire server, no projection, right before the conversations projection: message inserts/s, conversation replacements/s, and the events/s they allow the conversations projection at best (ceilingConversationsToBaseline: over that projection’s own baseline)',
      },
      ceilingConversationsToBaseline:
        Math.round(((mongoWire?.eventsPerSec ?? 0) / conversationsBaseline) * 1000) / 1000,
      projections: results,
      ...ratios,
      targets: {
        postgres: '>= 0.5',
        mongo: '>= 0.3',
        redis: '>= 0.5',
        projectorPeakRss: '< 300 MB',
      },
      peakRssBytes: { bench: peakRssBytes() },
    });
  } finally {
    await dropReadModels(
      { pool: postgres.pool, mongo: mongo.mongo, redis: redis.redis, cipher },
      namespace,
      PROJECTIONS,
    );
    await admin.deleteTopics({ topics: [...Object.values(topics), ...dlq] }).catch(() => {});
    await admin.disconnect();
    await postgres.resource.close();
    await within(mongo.resource.close());
    await redis.resource.close();
  }
}
