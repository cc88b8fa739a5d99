// One pass through every store of the real local stack with the platform's own clients:
// an Avro record through the schema registry and Kafka, then PostgreSQL, MongoDB wire and Redis.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createProducer, createTopics } from '../src/kafka.ts';
import { createMongoClient } from '../src/mongo.ts';
import { createPostgresPool } from '../src/postgres.ts';
import { createRedis } from '../src/redis.ts';
import {
  createSchemaRegistry,
  deleteSubject,
  SchemaType,
  schemaRegistryOptions,
} from '../src/schema-registry.ts';
import { redisReady, stackConfig, testKafka, uniqueName } from '../src/testing/fixtures.ts';

const config = stackConfig();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

describe('local stack smoke', () => {
  it('produces an Avro record through the registry with kafkajs, consumes and decodes it', async () => {
    const topic = uniqueName('smoke');
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    cleanups.push(() => admin.deleteTopics({ topics: [topic] }));

    const registry = createSchemaRegistry(schemaRegistryOptions(config));
    const subject = `${topic}-value`;
    const { id } = await registry.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'SmokeTested',
          namespace: 'dev.parley.test',
          fields: [
            { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
            { name: 'text', type: 'string' },
            { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
          ],
        }),
      },
      { subject },
    );
    cleanups.push(() => deleteSubject(schemaRegistryOptions(config), subject));
    const value = { id: crypto.randomUUID(), text: 'hello, parley', at: Date.now() };
    const encoded = await registry.encode(id, value);
    assert.equal(encoded[0], 0, 'Confluent wire format starts with magic byte 0');
    assert.equal(encoded.readInt32BE(1), id, 'then the 4-byte schema id');

    const producer = createProducer(kafka, { idempotent: true });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: [{ key: value.id, value: encoded }] });

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group'), readUncommitted: false });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 20 s')), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          assert.equal(message.key?.toString(), value.id);
          resolve(await registry.decode(message.value as Buffer));
        },
      });
    });
    assert.deepEqual({ ...(received as object) }, value);
  });

  it('writes and reads PostgreSQL', async () => {
    const pool = createPostgresPool({
      url: config.POSTGRES_URL,
      password: config.POSTGRES_PASSWORD,
      applicationName: 'smoke',
    });
    cleanups.push(() => pool.end());
    const table = uniqueName('smoke').replace(/-/g, '_');
    await pool.query(`create table ${table} (id uuid primary key, body jsonb not null)`);
    cleanups.push(() => pool.query(`drop table if exists ${table}`));
    const id = crypto.randomUUID();
    await pool.query(`insert into ${table} (id, body) values ($1, $2)`, [id, { n: 42 }]);
    const { rows } = await pool.query(`select body from ${table} where id = $1`, [id]);
    assert.deepEqual(rows, [{ body: { n: 42 } }]);
  });

  it('writes and reads the MongoDB-wire server with the official driver', async () => {
    const client = createMongoClient({ url: config.MONGO_URL, appName: 'smoke' });
    await client.connect();
    cleanups.push(() => client.close());
    const collection = client.db().collection(uniqueName('smoke'));
    cleanups.push(() => collection.drop());
    await collection.insertMany([
      { _id: 'a' as unknown as never, n: 1, tags: ['x'] },
      { _id: 'b' as unknown as never, n: 2, tags: ['y'] },
    ]);
    await collection.updateOne({ _id: 'a' as unknown as never, n: { $lt: 5 } }, { $set: { n: 5 } });
    const docs = await collection.find({}, { sort: { n: -1 } }).toArray();
    assert.deepEqual(
      docs.map((d) => [d._id, d.n]),
      [
        ['a', 5],
        ['b', 2],
      ],
    );
  });

  it('writes and reads Redis', async () => {
    const redis = createRedis({
      url: config.REDIS_URL,
      password: config.REDIS_PASSWORD,
      connectionName: 'smoke',
    });
    cleanups.push(() => redis.quit());
    await redisReady(redis);
    const key = uniqueName('smoke');
    cleanups.push(() => redis.del(key));
    await redis.set(key, 'v1', 'PX', 60_000);
    assert.equal(await redis.get(key), 'v1');
    assert.ok((await redis.pttl(key)) > 0);
  });
});
