// The read side fed by the real write side: the command API (in process) and processor append,
// the projectors build users and usage in PostgreSQL, conversations in MongoDB (SecantusDB here)
// and views in Redis. Covers erasure (nothing personal left, also after a rebuild from zero),
// dead letters, replays that change nothing, deleted conversations, a rebuild switch, and a rebuild
// started again after one died.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { startLagMonitor } from '@parley/platform/consumer-lag';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { namespaceOf, physical, pointerKey, viewKeys } from '@parley/platform/read-model-names';
import { quietLogger, stackConfig, testPython } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { conversationLayout, meLayout } from '@parley/platform/view-hashes';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { storeSettings as projectorSettings } from '../projectors/src/config.ts';
import { readDeadLetters, redriveDeadLetters } from '../projectors/src/dead-letter-tool.ts';
import { connectStores, projectorContext } from '../projectors/src/dependencies.ts';
import {
  collections,
  conversationsProjection,
} from '../projectors/src/read-models/conversations/projection.ts';
import { PROJECTIONS } from '../projectors/src/read-models/index.ts';
import { history } from '../projectors/src/read-models/spec.ts';
import { usersProjection } from '../projectors/src/read-models/users/projection.ts';
import { viewsProjection } from '../projectors/src/read-models/views/projection.ts';
import { RebuildRunningError, rebuild } from '../projectors/src/rebuild.ts';
import { DeadLetterWriter } from '../projectors/src/runtime/dead-letters.ts';
import {
  currentGeneration,
  lockRebuild,
  recordBuild,
} from '../projectors/src/runtime/generations.ts';
import { projectionMetrics } from '../projectors/src/runtime/metrics.ts';
import { type Generation, groupOf } from '../projectors/src/runtime/projection.ts';
import { groupIdOf, runProjection } from '../projectors/src/runtime/runner.ts';
import { type Supervisor, startSupervisor } from '../projectors/src/runtime/supervisor.ts';
import { startQueryApi } from '../query-api/test/helper.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
let fixture: Awaited<ReturnType<typeof processorFixture>>;
let api: Awaited<ReturnType<typeof fixture.commandApi>>;
let read: ReturnType<typeof connectStores>;
let producer: Producer;
let supervisor: Supervisor;
let namespace = '';
const registry = createMetricsRegistry('projectors-test');
const metrics = projectionMetrics(registry);
const context = () =>
  projectorContext(read, { producer, names: fixture.names, log: quietLogger(), metrics });
const PASSWORD = 'correct horse battery staple';

before(async () => {
  fixture = await processorFixture();
  await fixture.createDeadLetterTopics();
  await fixture.start();
  api = await fixture.commandApi({
    ...keyEnv,
    COMMAND_OUTCOME_WAIT_MS: '10000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    WRITE_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const config = loadConfig(projectorSettings, {
    source: { ...process.env, PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '' },
  });
  read = connectStores(config, quietLogger(), 'projectors-test');
  producer = createProducer(read.kafka.kafka, { idempotent: true });
  await producer.connect();
  namespace = namespaceOf(fixture.topicPrefix);
  supervisor = await startSupervisor({
    ...context(),
    projections: PROJECTIONS,
    namespace,
    pollMs: 200,
    registry,
  });
});

after(async () => {
  await supervisor?.stop();
  await producer?.disconnect();
  await api.close();
  for (const r of read.resources) await r.close().catch(() => {});
  await fixture.cleanup();
});

async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  ms = 30_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const post = async (url: string, payload: object, token?: string) => {
  const res = await api.app.inject({
    method: 'POST',
    url,
    payload,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json();
};

async function registered() {
  const email = `reader.${randomUUID().slice(0, 8)}@example.com`;
  const session = await post('/v1/auth/register', {
    email,
    password: PASSWORD,
    displayName: `Name ${email}`,
  });
  return { email, ...session } as { email: string; userId: string; accessToken: string };
}

/** The live generation of a projection of this test's namespace. */
async function gen(name: string): Promise<Generation> {
  const key = pointerKey(namespace, name);
  return {
    projection: key,
    number: (await currentGeneration(read.stores.pool, key)) ?? 1,
    namespace,
  };
}

async function userRow(userId: string) {
  const { rows } = await read.stores.pool.query(
    `select * from read.${physical(await gen('users'), 'users')} where user_id = $1`,
    [userId],
  );
  return rows[0];
}

async function conversationDoc(id: string) {
  return collections(read.stores, await gen('conversations')).conversations.findOne({ _id: id });
}

/** A view as the query API reads it (its layout: platform/src/view-hashes.ts). */
async function meView(id: string) {
  const keys = viewKeys(await gen('views'));
  return meLayout.fromHash(await read.stores.redis.hgetall(keys.me(id)));
}

async function conversationView(id: string) {
  const keys = viewKeys(await gen('views'));
  return conversationLayout.fromHash(await read.stores.redis.hgetall(keys.conversation(id)));
}

/** The `read` tables of this test's namespace whose rows hold any of these texts. */
async function postgresHolding(texts: readonly string[]): Promise<string[]> {
  const { rows: tables } = await read.stores.pool.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = 'read' and table_name like $1`,
    [`${namespace}%`],
  );
  const found: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await read.stores.pool.query(
      `select count(*)::int as n from read.${table_name} t where t::text like any($1)`,
      [texts.map((t) => `%${t}%`)],
    );
    if (rows[0].n > 0) found.push(`postgres read.${table_name}`);
  }
  return found;
}

/** The MongoDB collections of this test's namespace with a document holding any of these texts. */
async function mongoHolding(texts: readonly string[]): Promise<string[]> {
  const db = read.stores.mongo.db();
  const found: string[] = [];
  for (const { name } of await db.listCollections().toArray()) {
    if (!name.startsWith(namespace)) continue;
    for await (const doc of db.collection(name).find()) {
      const json = JSON.stringify(doc);
      if (texts.some((t) => json.includes(t))) found.push(`mongodb ${name}`);
    }
  }
  return found;
}

/** The Redis keys of this test's namespace whose value holds any of these texts. */
async function redisHolding(texts: readonly string[]): Promise<string[]> {
  const { redis } = read.stores;
  const contentOf = async (key: string) => {
    const type = await redis.type(key);
    if (type === 'hash') return JSON.stringify(await redis.hgetall(key));
    if (type === 'zset') return JSON.stringify(await redis.zrange(key, 0, -1));
    return type === 'string' ? ((await redis.get(key)) ?? '') : '';
  };
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `parley:${namespace}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const value = await contentOf(key);
      if (texts.some((t) => value.includes(t))) found.push(`redis ${key}`);
    }
  } while (cursor !== '0');
  return found;
}

/**
 * Which stores hold any of these texts, in any generation of this test's namespace: PostgreSQL
 * (every `read` table), MongoDB (every collection) and Redis (every key).
 */
async function storesHolding(texts: readonly string[]): Promise<string[]> {
  return [
    ...(await postgresHolding(texts)),
    ...(await mongoHolding(texts)),
    ...(await redisHolding(texts)),
  ];
}

/** Whether every projection's live generation has committed the head of each of its partitions. */
async function projectionsCaughtUp(): Promise<boolean> {
  for (const projection of PROJECTIONS) {
    const groupId = groupIdOf(projection, await gen(projection.name));
    const topics = projection.topics(fixture.names);
    const committed = await fixture.admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const at = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const { partition, high } of await fixture.admin.fetchTopicOffsets(topic)) {
        const offset = Number(at.find((p) => p.partition === partition)?.offset ?? -1);
        if (Number(high) > 0 && offset < Number(high)) return false;
      }
    }
  }
  return true;
}

/**
 * Every record of the chat topics (events and commands), as bytes and decoded by Python's fastavro
 * through the registry: none holds these texts in clear; the other texts are not there either
 * (everything anyone writes is encrypted).
 */
async function assertLogHasNoClearText(...groups: ReadonlyArray<readonly string[]>) {
  const texts = groups.flat();
  const topics = [fixture.chat?.eventsTopic ?? '', fixture.chat?.commandTopic ?? ''];
  const payloads: Buffer[] = [];
  for (const topic of topics) {
    const consumer = read.kafka.kafka.consumer({
      groupId: `${fixture.topicPrefix}scan-${randomUUID()}`,
    });
    const heads = await fixture.admin.fetchTopicOffsets(topic);
    const left = new Map(heads.map((h) => [h.partition, Number(h.high)]));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const done = () => [...left.values()].every((n) => n <= 0);
      if (done()) return resolve();
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (m.value) payloads.push(m.value);
          left.set(batch.partition, Number(batch.highWatermark) - Number(batch.lastOffset()) - 2);
          if (done()) resolve();
        },
      });
    });
    await consumer.disconnect();
  }
  for (const payload of payloads) {
    for (const text of texts)
      assert.ok(!payload.includes(text), `a record holds "${text}" in clear`);
  }
  const python = testPython();
  const decoder = new URL('../schemas/test/fastavro-decode.py', import.meta.url).pathname;
  const result = spawnSync(python, [decoder, stackConfig().SCHEMA_REGISTRY_URL], {
    input: `${payloads.map((p) => JSON.stringify({ payload: p.toString('base64') })).join('\n')}\n`,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(result.status, 0, `fastavro failed: ${result.stderr}`);
  const decoded = result.stdout.trim().split('\n');
  assert.equal(decoded.length, payloads.length, 'fastavro decoded every record');
  for (const text of texts) {
    assert.ok(!result.stdout.includes(text), `fastavro finds "${text}" in clear`);
  }
  assert.ok(result.stdout.includes('"encryptedText": {'), 'messages are encrypted');
}

describe('projections', () => {
  it('build users, usage, conversations and views from the commands', async () => {
    const ann = await registered();
    const { aggregateId } = await post('/v1/conversations', { title: 'Lisbon' }, ann.accessToken);
    for (let i = 0; i < 3; i++) {
      await post(
        `/v1/conversations/${aggregateId}/messages`,
        { text: `hello ${i}` },
        ann.accessToken,
      );
    }
    const user = await until(() => userRow(ann.userId), 'the users row');
    assert.equal(user.email, ann.email);
    assert.equal(user.display_name, `Name ${ann.email}`);
    assert.equal(user.status, 'active');
    const doc = await until(async () => {
      const d = await conversationDoc(aggregateId);
      return d?.messageCount === 3 && d;
    }, 'the conversation document');
    assert.equal(doc.title, 'Lisbon');
    assert.equal(doc.lastMessage?.preview, 'hello 2');
    const view = await until(async () => {
      const v = await conversationView(aggregateId);
      return v?.version === 4 && v;
    }, 'the conversation view');
    assert.deepEqual(
      view.data?.messages.map((m) => m.text),
      ['hello 0', 'hello 1', 'hello 2'],
    );
    assert.equal(view.data?.lastMessage?.preview, 'hello 2');
    const me = await until(() => meView(ann.userId), 'the me view');
    assert.equal(me.data?.email, ann.email);
    const g = await gen('usage-daily');
    const usage = await until(async () => {
      const { rows } = await read.stores.pool.query(
        `select messages from read.${physical(g, 'usage_daily')} where user_id = $1`,
        [ann.userId],
      );
      return rows[0]?.messages === 3 && rows[0];
    }, 'usage per day');
    assert.equal(usage.messages, 3);
  });

  it('leaves no email or name of an erased user in any read model, also after a rebuild from zero', async () => {
    const ann = await registered();
    await until(() => userRow(ann.userId), 'the users row');
    await post(`/v1/users/${ann.userId}/erase`, { password: PASSWORD }, ann.accessToken);
    await until(async () => (await userRow(ann.userId))?.status === 'erased', 'the erasure');
    await until(
      async () => (await meView(ann.userId))?.data?.status === 'erased',
      'the erased me view',
    );

    const result = await rebuild({
      ...context(),
      projection: usersProjection,
      namespace,
      switchGraceMs: 1000,
      report: () => {},
    });
    assert.equal((await gen('users')).number, result.generation);
    const row = await userRow(ann.userId);
    assert.equal(row.status, 'erased');
    assert.equal(row.email, null);
    assert.equal(row.display_name, null);

    // Nothing anywhere: every users generation, the views, the documents.
    const tables = await read.stores.pool.query(
      `select table_name from information_schema.tables where table_schema = 'read' and table_name like $1`,
      [`${namespace}users_g%`],
    );
    for (const { table_name } of tables.rows) {
      const { rows } = await read.stores.pool.query(
        `select count(*)::int as n from read.${table_name} t where t::text ilike $1 or t::text ilike $2`,
        [`%${ann.email}%`, `%Name ${ann.email}%`],
      );
      assert.equal(rows[0].n, 0, `${table_name} holds nothing of the erased user`);
    }
    let cursor = '0';
    do {
      const [next, keys] = await read.stores.redis.scan(
        cursor,
        'MATCH',
        'parley:v*:me:*',
        'COUNT',
        1000,
      );
      cursor = next;
      for (const k of keys)
        assert.ok(!JSON.stringify(await read.stores.redis.hgetall(k)).includes(ann.email));
    } while (cursor !== '0');
  });

  it('erases what a person wrote: in no store, not in the log in clear, also after a rebuild; others untouched', async () => {
    const ann = await registered();
    const bob = await registered();
    const mark = randomUUID().slice(0, 8);
    const annWrote = [`Ann secret plans ${mark}`, `ann whispers ${mark}`, `ann asks again ${mark}`];
    const bobWrote = [`Bob trip ${mark}`, `bob asks ${mark}`];
    const { aggregateId: annConversation } = await post(
      '/v1/conversations',
      { title: annWrote[0] },
      ann.accessToken,
    );
    for (const text of annWrote.slice(1)) {
      await post(`/v1/conversations/${annConversation}/messages`, { text }, ann.accessToken);
    }
    const { aggregateId: bobConversation } = await post(
      '/v1/conversations',
      { title: bobWrote[0] },
      bob.accessToken,
    );
    await post(
      `/v1/conversations/${bobConversation}/messages`,
      { text: bobWrote[1] },
      bob.accessToken,
    );
    const query = await startQueryApi({
      JWT_PUBLIC_KEYS: keyEnv.JWT_PUBLIC_KEYS ?? '',
      TOPIC_PREFIX: fixture.topicPrefix,
      READ_RATE_LIMIT_PER_MINUTE: '100000',
      GENERATION_CACHE_MS: '200',
    });
    const read = (url: string, token: string) =>
      query.app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    try {
      // Before: the owner reads what they wrote (decrypted for their own read models).
      await until(async () => (await conversationView(annConversation))?.version === 3, 'ann');
      await until(async () => (await conversationView(bobConversation))?.version === 2, 'bob');
      await until(async () => (await conversationDoc(annConversation))?.messageCount === 2, 'docs');
      const before = await read(`/v1/conversations/${annConversation}`, ann.accessToken);
      assert.equal(before.statusCode, 200, before.body);
      assert.equal(before.json().title, annWrote[0]);
      assert.equal((await storesHolding(annWrote)).length > 0, true, 'the stores had her text');

      await post(`/v1/users/${ann.userId}/erase`, { password: PASSWORD }, ann.accessToken);
      await until(
        async () => (await conversationDoc(annConversation))?.status === 'erased',
        'her conversation erased in MongoDB',
      );
      await until(
        async () => (await conversationView(annConversation))?.data === null,
        'her conversation view a tombstone',
      );
      await until(async () => (await userRow(ann.userId))?.status === 'erased', 'her user row');

      // Her reads: 401 (her token is refused); an admin sees the account as erased.
      await until(
        async () => (await read('/v1/me', ann.accessToken)).statusCode === 401,
        'her token refused',
      );
      assert.equal(
        (await read(`/v1/conversations/${annConversation}`, ann.accessToken)).statusCode,
        401,
      );
      const admin = signToken(key, { sub: randomUUID(), roles: ['admin'] });
      const account = await read(`/v1/users/${ann.userId}`, admin);
      assert.equal(account.statusCode, 200, account.body);
      assert.equal(account.json().status, 'erased');
      assert.equal(account.json().email, null);

      // No store holds anything she wrote; Bob's conversation is untouched.
      assert.deepEqual(await storesHolding(annWrote), [], 'her text is in no store');
      assert.ok((await storesHolding(bobWrote)).length >= 3, 'his text is still in each store');
      const his = await read(`/v1/conversations/${bobConversation}`, bob.accessToken);
      assert.equal(his.statusCode, 200);
      assert.equal(his.json().title, bobWrote[0]);

      // The log: her content only as ciphertext, for an independent decoder too.
      await assertLogHasNoClearText(annWrote, bobWrote);

      // A rebuild of every projection from offset zero finds her erased: nothing again.
      for (const projection of PROJECTIONS) {
        await rebuild({
          ...context(),
          projection,
          namespace,
          switchGraceMs: 500,
          report: () => {},
        });
      }
      await until(async () => !(await storesHolding(annWrote)).length, 'nothing after the rebuild');
      assert.deepEqual(
        await storesHolding(annWrote),
        [],
        'her text is in no store after a rebuild',
      );
      assert.ok((await storesHolding(bobWrote)).length >= 3, 'his text is rebuilt');
      assert.equal((await conversationDoc(annConversation))?.status, 'erased');
      assert.equal((await conversationView(annConversation))?.data ?? null, null);
      const rebuiltHis = await read(`/v1/conversations/${bobConversation}`, bob.accessToken);
      assert.equal(rebuiltHis.json().title, bobWrote[0]);
    } finally {
      await query.close();
    }
  });

  it('sends a poison record to the dead letters and applies the events after it', async () => {
    const ann = await registered();
    const { aggregateId } = await post('/v1/conversations', { title: 'Poison' }, ann.accessToken);
    await until(
      async () => (await conversationDoc(aggregateId))?.version === 1,
      'the conversation',
    );
    // A valid-looking header (magic byte 0, a schema id) and garbage after it, on the same partition.
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from('not avro at all')]);
    await producer.send({
      topic: fixture.chat?.eventsTopic ?? '',
      messages: [
        { key: aggregateId, value: garbage, headers: { 'parley.type': 'UserMessagePosted' } },
      ],
    });
    await post(
      `/v1/conversations/${aggregateId}/messages`,
      { text: 'after the poison' },
      ann.accessToken,
    );
    const doc = await until(async () => {
      const d = await conversationDoc(aggregateId);
      return d?.messageCount === 1 && d;
    }, 'the event after the poison');
    assert.equal(doc.lastMessage?.preview, 'after the poison');
    const topic = fixture.names.deadLetters(groupOf({ name: 'conversations' }));
    const letters = await until(async () => {
      const { entries, close } = await readDeadLetters(read.kafka.kafka, topic);
      await close();
      return entries.length > 0 && entries;
    }, 'the dead letter');
    assert.equal(letters.length, 1);
    assert.match(letters[0]?.source ?? '', new RegExp(`^${fixture.chat?.eventsTopic}:\\d+:\\d+$`));
    assert.ok(letters[0]?.reason);
    assert.equal(letters[0]?.message.value?.toString('latin1'), garbage.toString('latin1'));
  });

  it('redrives dead letters: applies those that now apply, keeps those that still fail', async () => {
    const ann = await registered();
    const { aggregateId } = await post('/v1/conversations', { title: 'Before' }, ann.accessToken);
    await until(
      async () => (await conversationDoc(aggregateId))?.version === 1,
      'the conversation',
    );
    // An event that once failed to apply (a bug since fixed), dead-lettered beside the poison
    // record of the test above.
    const metadata = {
      eventId: randomUUID(),
      aggregateId,
      aggregateVersion: 2,
      occurredAt: Date.now(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: `user:${ann.userId}`,
      tenantId: null,
    };
    const { payload } = await fixture.serde.encode('ConversationRenamed', {
      metadata,
      title: 'After the redrive',
    } as never);
    const topic = fixture.names.deadLetters(groupOf({ name: 'conversations' }));
    await new DeadLetterWriter(producer, topic, 'conversations').write([
      {
        topic: fixture.chat?.eventsTopic ?? '',
        partition: 0,
        message: {
          key: Buffer.from(aggregateId),
          value: payload,
          offset: '999',
          headers: {},
        } as never,
        error: new Error('a bug since fixed'),
      },
    ]);
    const redriveGroup = `redrive-test-${randomUUID()}`;
    const redrive = () =>
      gen('conversations').then((generation) =>
        redriveDeadLetters({
          kafka: read.kafka.kafka,
          serde: read.serde,
          stores: read.stores,
          projection: conversationsProjection,
          generation,
          topic,
          groupId: redriveGroup,
        }),
      );
    // The dead letters waiting are the redrive group's lag on the dead-letter topic (the
    // projectors watch each projection's redrive group so).
    const lag = startLagMonitor({
      admin: read.kafka.admin,
      targets: () => [{ group: redriveGroup, topics: [topic] }],
      metrics: createMetricsRegistry('dead-letters-waiting-test'),
      log: quietLogger(),
      intervalMs: 60_000,
    });
    const waiting = async () =>
      (await lag.measure()).reduce((sum, partition) => sum + partition.events, 0);
    assert.equal(await waiting(), 2, 'the poison record and the event that once failed');
    const first = await redrive();
    assert.equal(first.redriven.length, 1, JSON.stringify(first));
    assert.equal(first.failed.length, 1, 'the poison record still fails');
    const doc = await conversationDoc(aggregateId);
    assert.equal(doc?.title, 'After the redrive');
    assert.equal(doc?.version, 2);
    // Kept: both are still there for the next attempt, and redriving again changes nothing.
    const { entries, close } = await readDeadLetters(read.kafka.kafka, topic);
    await close();
    assert.equal(entries.length, 2);
    const again = await redrive();
    assert.deepEqual(again.redriven, first.redriven);
    assert.deepEqual(await conversationDoc(aggregateId), doc);
    // One still fails, so the group does not move past them: both still wait.
    assert.equal(await waiting(), 2);
    lag.stop();
  });

  it('refuses control characters at the API; an event a store refuses goes to the dead letters and the events after it are applied in every store', async () => {
    const ann = await registered();
    const auth = { authorization: `Bearer ${ann.accessToken}` };
    // The request that once stopped the conversations projection for good is refused at the edge.
    const refused = [
      ['/v1/conversations', '{"title":"a\\u0000b"}', /title/],
      [
        '/v1/auth/register',
        '{"email":"nul@example.com","password":"long enough pw","displayName":"x\\u0000"}',
        /displayName/,
      ],
    ] as const;
    for (const [url, payload, field] of refused) {
      const res = await api.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { ...auth, 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json().detail, field);
    }
    // Two conversations on one partition: the poison goes to one, the events after it to the other.
    const partitionOf = (position: string) => position.split(':').at(-2);
    const targeted = await post('/v1/conversations', { title: 'Target' }, ann.accessToken);
    const target = targeted.aggregateId as string;
    let kept = '';
    for (let i = 0; !kept; i++) {
      assert.ok(i < 50, 'a conversation on the same partition');
      const other = await post('/v1/conversations', { title: 'Kept' }, ann.accessToken);
      if (partitionOf(other.position) === partitionOf(targeted.position)) kept = other.aggregateId;
    }
    await until(
      async () => (await conversationDoc(target))?.version === 1,
      'the conversation the poison message goes to',
    );
    const nulMessage = await api.app.inject({
      method: 'POST',
      url: `/v1/conversations/${kept}/messages`,
      payload: '{"text":"a\\u0000b"}',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    assert.equal(nulMessage.statusCode, 400);
    assert.match(nulMessage.json().detail, /text/);

    // Events written before the edge refused them (the log is immutable), on the same partitions
    // as what follows: a title and a message with NUL, which MongoDB stores as they are, and a
    // name with NUL, which PostgreSQL refuses.
    const poisonConversation = randomUUID();
    const poisonUser = randomUUID();
    const metadata = (aggregateId: string, version: number) => ({
      eventId: randomUUID(),
      aggregateId,
      aggregateVersion: version,
      occurredAt: Date.now(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: `user:${ann.userId}`,
      tenantId: null,
    });
    const encode = async (type: string, value: object) =>
      (await fixture.serde.encode(type as never, value as never)).payload;
    await producer.send({
      topic: fixture.chat?.eventsTopic ?? '',
      messages: [
        {
          key: kept,
          value: await encode('ConversationStarted', {
            metadata: metadata(poisonConversation, 1),
            ownerId: ann.userId,
            title: 'poison\u0000title',
          }),
        },
        {
          // On the conversation's own partition, as the processor writes an aggregate's events.
          key: target,
          value: await encode('UserMessagePosted', {
            metadata: metadata(target, 2),
            messageId: randomUUID(),
            authorId: ann.userId,
            text: 'poison\u0000text',
          }),
        },
      ],
    });
    const cipher = read.stores.cipher;
    await producer.send({
      topic: fixture.identity?.eventsTopic ?? '',
      messages: [
        {
          key: ann.userId,
          value: await encode('UserRegistered', {
            metadata: { ...metadata(poisonUser, 1), actor: `user:${poisonUser}` },
            email: await cipher.encrypt(poisonUser, 'poison@example.com'),
            displayName: await cipher.encrypt(poisonUser, 'poison\u0000name'),
            role: 'user',
            locale: null,
          }),
        },
      ],
    });

    // The events after them, through the API, on the same partitions.
    await post(
      `/v1/conversations/${kept}/messages`,
      { text: 'after\nthe poison' },
      ann.accessToken,
    );
    const renamed = await api.app.inject({
      method: 'PATCH',
      url: `/v1/users/${ann.userId}`,
      payload: { displayName: 'Ann after the poison' },
      headers: auth,
    });
    assert.ok(renamed.statusCode < 300, renamed.body);

    const doc = await until(async () => {
      const d = await conversationDoc(kept);
      return d?.messageCount === 1 && d;
    }, 'MongoDB: the message after the poison');
    assert.equal(doc.lastMessage?.preview, 'after\nthe poison');
    await until(
      async () => (await conversationView(kept))?.version === 2,
      'Redis: the conversation view after the poison',
    );
    await until(
      async () => (await userRow(ann.userId))?.display_name === 'Ann after the poison',
      'PostgreSQL users: the rename after the poison',
    );
    const g = await gen('usage-daily');
    await until(async () => {
      const { rows } = await read.stores.pool.query(
        `select sum(messages)::int as n from read.${physical(g, 'usage_daily')} where user_id = $1`,
        [ann.userId],
      );
      return rows[0]?.n >= 1;
    }, 'PostgreSQL usage: the message after the poison');

    const lettersOf = async (projection: string, aggregateId: string) => {
      const { entries, close } = await readDeadLetters(
        read.kafka.kafka,
        fixture.names.deadLetters(groupOf({ name: projection })),
      );
      await close();
      const found = [];
      for (const entry of entries) {
        const decoded = await fixture.serde
          .decode(entry.message.value ?? Buffer.alloc(0))
          .catch(() => undefined);
        const value = decoded?.value as { metadata?: { aggregateId?: string } } | undefined;
        if (value?.metadata?.aggregateId === aggregateId) found.push(entry);
      }
      return found;
    };
    // MongoDB stores NUL in a string (BSON strings are length-prefixed), and so does the local
    // server: the two chat events apply like any other, with no dead letter.
    const poisoned = await until(
      async () => (await conversationDoc(poisonConversation)) ?? false,
      'the conversation whose title holds NUL',
    );
    assert.equal(poisoned.title, 'poison\u0000title');
    await until(
      async () => (await conversationDoc(target))?.messageCount === 1,
      'the message holding NUL',
    );
    assert.deepEqual(
      [
        ...(await lettersOf('conversations', poisonConversation)),
        ...(await lettersOf('conversations', target)),
      ],
      [],
    );
    const userLetters = await until(async () => {
      const found = await lettersOf('users', poisonUser);
      return found.length === 1 && found;
    }, 'the poison registration in the users dead letters');
    assert.match(userLetters[0]?.error ?? '', /^22/, 'a PostgreSQL data exception');
    // Nothing stopped: every projection still runs.
    for (const status of supervisor.statuses()) {
      assert.equal(status.state, 'running', `${status.name}: ${status.lastError}`);
    }
    assert.equal(await userRow(poisonUser), undefined);
  });

  it('knows an erasure the log told another process, even where no key was ever erased', async () => {
    // One process applies UserErased (the key store untouched, as when the erasure came only
    // through the log), then dies; a fresh process applies an older conversation of that person.
    const config = loadConfig(projectorSettings, {
      source: { ...process.env, PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '' },
    });
    const fresh = connectStores(config, quietLogger(), 'projectors-test-fresh');
    const g = { projection: 'conversations', number: 1, namespace: `${namespace}erasure_` };
    const owner = randomUUID();
    const conversation = randomUUID();
    try {
      await conversationsProjection.prepare?.(read.stores, g);
      await conversationsProjection.apply(read.stores, g, [history(owner, 1)('UserErased', {})]);
      await conversationsProjection.apply(fresh.stores, g, [
        history(conversation)('ConversationStarted', {
          ownerId: owner,
          title: 'Written before the erasure',
          encryptedTitle: null,
        }),
      ]);
      const doc = await collections(read.stores, g).conversations.findOne({ _id: conversation });
      assert.equal(doc?.status, 'erased');
      assert.equal(doc?.title, undefined);
    } finally {
      await conversationsProjection.drop(read.stores, g).catch(() => {});
      for (const r of fresh.resources) await r.close().catch(() => {});
    }
  });

  it('keeps nothing of a deleted conversation but a tombstone', async () => {
    const ann = await registered();
    const { aggregateId } = await post(
      '/v1/conversations',
      { title: 'Secret plans' },
      ann.accessToken,
    );
    await post(`/v1/conversations/${aggregateId}/messages`, { text: 'my secret' }, ann.accessToken);
    await until(
      async () => (await conversationDoc(aggregateId))?.messageCount === 1,
      'the message',
    );
    const res = await api.app.inject({
      method: 'DELETE',
      url: `/v1/conversations/${aggregateId}`,
      headers: { authorization: `Bearer ${ann.accessToken}` },
    });
    assert.equal(res.statusCode, 200);
    const doc = await until(async () => {
      const d = await conversationDoc(aggregateId);
      return d?.status === 'deleted' && d;
    }, 'the tombstone');
    assert.equal(doc.title, undefined);
    const g = await gen('conversations');
    assert.equal(
      await collections(read.stores, g).messages.countDocuments({ conversationId: aggregateId }),
      0,
    );
    const view = await until(async () => {
      const v = await conversationView(aggregateId);
      return v?.version === 3 && v;
    }, 'the view tombstone');
    assert.equal(view.data, null);
    const keys = viewKeys(await gen('views'));
    assert.equal(await read.stores.redis.zscore(keys.list(ann.userId), aggregateId), null);
  });

  it('reads a conversation back when another writer changed it since this process wrote it', async () => {
    const ann = await registered();
    const { aggregateId } = await post('/v1/conversations', { title: 'Moved' }, ann.accessToken);
    const say = (text: string) =>
      post(`/v1/conversations/${aggregateId}/messages`, { text }, ann.accessToken);
    await say('one');
    await until(async () => (await conversationDoc(aggregateId))?.version === 2, 'version 2');
    // Another consumer (the partition moved away and back) applied version 3 meanwhile.
    const { conversations } = collections(read.stores, await gen('conversations'));
    await conversations.updateOne({ _id: aggregateId }, { $set: { version: 3, messageCount: 99 } });
    await say('two'); // version 3: already there
    await say('three'); // version 4: on top of what the store has, not of what this process wrote
    const doc = await until(async () => {
      const d = await conversationDoc(aggregateId);
      return d?.version === 4 ? d : undefined;
    }, 'version 4');
    assert.equal(doc.messageCount, 100);
  });

  it('starts a rebuild again after one died part-way: a new generation, from offset zero', async () => {
    const ann = await registered();
    await until(async () => (await meView(ann.userId))?.data, 'the me view');
    const live = await gen('views');
    // What a rebuild killed after reading everything leaves: its build recorded, some of its
    // keys, and its consumer group's offsets committed at the end of the topics.
    const dead = { ...live, number: live.number + 1 };
    await recordBuild(read.stores.pool, live.projection, dead.number);
    await read.stores.redis.set(viewKeys(dead).me('left-behind'), '1');
    const groupId = groupIdOf(viewsProjection, dead);
    for (const topic of viewsProjection.topics(fixture.names)) {
      const ends = await fixture.admin.fetchTopicOffsets(topic);
      await fixture.admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
    // Only one rebuild of a projection at a time.
    const unlock = await lockRebuild(read.stores.pool, live.projection);
    await assert.rejects(
      rebuild({
        ...context(),
        projection: viewsProjection,
        namespace,
        switchGraceMs: 500,
        report: () => {},
      }),
      RebuildRunningError,
    );
    await unlock?.();

    const result = await rebuild({
      ...context(),
      projection: viewsProjection,
      namespace,
      switchGraceMs: 500,
      report: () => {},
    });
    assert.equal(result.generation, dead.number + 1, 'past the dead generation, not into it');
    assert.equal((await gen('views')).number, result.generation);
    assert.equal(await read.stores.redis.exists(viewKeys(dead).me('left-behind')), 0);
    const { rows } = await read.stores.pool.query(
      'select generation from read.builds where projection = $1 order by generation',
      [live.projection],
    );
    assert.deepEqual(
      rows.map((r) => r.generation),
      [result.generation],
    );
    // Built from offset zero: what was projected before is in the new generation too.
    assert.equal((await meView(ann.userId))?.data?.userId, ann.userId);
  });

  it('changes nothing when every batch is replayed', async () => {
    const ann = await registered();
    const { aggregateId } = await post('/v1/conversations', { title: 'Twice' }, ann.accessToken);
    await post(`/v1/conversations/${aggregateId}/messages`, { text: 'once' }, ann.accessToken);
    await until(async () => (await conversationView(aggregateId))?.version === 2, 'the views');
    await until(async () => (await conversationDoc(aggregateId))?.version === 2, 'the documents');
    // Every live projection caught up with everything the earlier tests wrote, then stopped: the
    // replay must find nothing left to apply.
    await until(projectionsCaughtUp, 'the live projections caught up');
    await supervisor.stop();
    for (const projection of PROJECTIONS) {
      const generation = await gen(projection.name);
      const before = await projection.checksum(read.stores, generation);
      // A second consumer group over the same generation: every event again, from offset zero.
      const replay = await runProjection({
        ...context(),
        projection,
        generation,
        groupId: `${fixture.topicPrefix}replay-${projection.name}`,
      });
      await until(
        async () => (await replay.lag()) === 0 && replay.applied() >= 0,
        `${projection.name} replayed`,
      );
      await new Promise((r) => setTimeout(r, 300));
      await replay.stop();
      assert.equal(
        await projection.checksum(read.stores, generation),
        before,
        `${projection.name} unchanged`,
      );
    }
  });
});
