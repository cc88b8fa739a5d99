// The serde against the real schema registry and Kafka: every record type round-trips, schema
// versions N and N+1 read each other's data, bad bytes give typed errors, and an independent
// Avro implementation (Python fastavro) decodes our bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProducer, createTopics } from '@parley/platform/kafka';
import {
  createSchemaRegistry,
  deleteSubject,
  schemaRegistryOptions,
} from '@parley/platform/schema-registry';
import { stackConfig, testKafka, testPython, uniqueName } from '@parley/platform/testing/fixtures';
import { registerSchemas } from '../src/avro/register.ts';
import { loadSchemaSet, type SchemaSet } from '../src/avro/schema-set.ts';
import {
  CorruptPayloadError,
  SchemaNotRegisteredError,
  TruncatedPayloadError,
  UnknownSchemaIdError,
  WrongMagicByteError,
} from '../src/serde/errors.ts';
import { readHeaders, writeHeaders } from '../src/serde/headers.ts';
import { AvroSerde } from '../src/serde/serde.ts';

const config = stackConfig();
const options = schemaRegistryOptions(config);
const registry = createSchemaRegistry(options);
const set = loadSchemaSet();
const serde = new AvroSerde(registry, set);
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  // What the bootstrap does; registering unchanged schemas is a no-op.
  const results = await registerSchemas(registry, options, set);
  assert.deepEqual(
    results.filter((r) => r.error),
    [],
  );
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A schema set with one test record in two versions, each in its own folder. */
function evolvingSet(recordName: string, fields: object[]): SchemaSet {
  const dir = mkdtempSync(join(tmpdir(), 'parley-avro-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'chat', 'events'), { recursive: true });
  writeFileSync(
    join(dir, 'chat', 'events', `${recordName}.avsc`),
    JSON.stringify({ type: 'record', name: recordName, namespace: 'dev.parley.test', fields }),
  );
  return loadSchemaSet(dir);
}

describe('AvroSerde', () => {
  it('round-trips every command and event type through the registry and Kafka', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const topic = uniqueName('serde-roundtrip');
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    cleanups.push(() => admin.deleteTopics({ topics: [topic] }));

    const values = new Map(set.records.map((r) => [r.name, r.type.random() as never]));
    const producer = createProducer(kafka, { idempotent: true });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const messages = [];
    for (const [name, value] of values) {
      const { payload, schemaId } = await serde.encode(name as never, value);
      messages.push({
        key: name,
        value: payload,
        headers: writeHeaders({
          id: name,
          type: name,
          correlationId: 'c',
          causationId: 'c',
          actor: 'system:test',
          schemaId,
        }),
      });
    }
    await producer.send({ topic, acks: -1, messages });

    const consumer = kafka.consumer({ groupId: uniqueName('serde-group') });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const decoded = new Map<string, unknown>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${decoded.size} records within 30 s`)),
        30_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = readHeaders(message.headers);
          const record = await serde.decode(message.value as Buffer);
          assert.equal(record.type, headers.type);
          assert.equal(record.schemaId, headers.schemaId);
          decoded.set(record.type, record.value);
          if (decoded.size === values.size) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    for (const [name, value] of values) {
      assert.ok(decoded.has(name), `${name} consumed`);
      assert.equal(
        set.byName(name)?.type.compare(decoded.get(name), value),
        0,
        `${name} round-trips`,
      );
    }
  });

  it('reads version N data with the N+1 schema and N+1 data with the N schema', async () => {
    const name = `Evolving_${uniqueName('x').replace(/-/g, '_')}`;
    const v1 = evolvingSet(name, [{ name: 'title', type: 'string' }]);
    const v2 = evolvingSet(name, [
      { name: 'title', type: 'string' },
      { name: 'note', type: ['null', 'string'], default: null },
    ]);
    const subject = v1.records[0]?.subject ?? '';
    cleanups.push(() => deleteSubject(options, subject));
    await registerSchemas(registry, options, v1);
    await registerSchemas(registry, options, v2);
    const oldSerde = new AvroSerde(registry, v1);
    const newSerde = new AvroSerde(registry, v2);

    const written1 = await oldSerde.encode(name as never, { title: 'old' } as never);
    const written2 = await newSerde.encode(name as never, { title: 'new', note: 'hi' } as never);
    assert.notEqual(written1.schemaId, written2.schemaId);

    assert.deepEqual(
      { ...((await newSerde.decode(written1.payload)).value as object) },
      { title: 'old', note: null },
    );
    assert.deepEqual(
      { ...((await oldSerde.decode(written2.payload)).value as object) },
      { title: 'new' },
    );
  });

  it('gives typed errors for bad bytes and unregistered schemas', async () => {
    const { payload } = await serde.encode(
      'ConversationArchived',
      set.byName('ConversationArchived')?.type.random() as never,
    );
    await assert.rejects(
      serde.decode(Buffer.concat([Buffer.from([1]), payload.subarray(1)])),
      WrongMagicByteError,
    );
    await assert.rejects(serde.decode(payload.subarray(0, 3)), TruncatedPayloadError);
    await assert.rejects(
      serde.decode(payload.subarray(0, payload.length - 3)),
      TruncatedPayloadError,
    );
    const unknownId = Buffer.from(payload);
    unknownId.writeInt32BE(2_000_000_000, 1);
    await assert.rejects(serde.decode(unknownId), UnknownSchemaIdError);
    // A valid header with garbage behind it, like a poison record.
    const garbage = Buffer.concat([
      payload.subarray(0, 5),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    ]);
    await assert.rejects(
      serde.decode(garbage),
      (e: unknown) => e instanceof TruncatedPayloadError || e instanceof CorruptPayloadError,
    );
    await assert.rejects(
      serde.decode(Buffer.concat([payload, Buffer.from([1, 2, 3])])),
      CorruptPayloadError,
    );

    const unregistered = evolvingSet(`Unregistered_${uniqueName('x').replace(/-/g, '_')}`, [
      { name: 'a', type: 'string' },
    ]);
    const record = unregistered.records[0];
    assert.ok(record);
    await assert.rejects(
      new AvroSerde(registry, unregistered).encode(record.name as never, { a: 'x' } as never),
      SchemaNotRegisteredError,
    );
  });

  it('decodes without waiting once the writer schema is known, with the same result and errors', async () => {
    const fresh = new AvroSerde(registry, set);
    const value = set.byName('ConversationArchived')?.type.random();
    const { payload } = await fresh.encode('ConversationArchived', value as never);
    assert.equal(fresh.decodeKnown(payload), undefined, 'not known before a first decode');
    const decoded = await fresh.decode(payload);
    assert.deepEqual(fresh.decodeKnown(payload), decoded);
    // As written: the writer schema's own record class, the same fields.
    assert.equal(
      JSON.stringify(fresh.decodeKnown(payload, { asWritten: true })),
      JSON.stringify(decoded),
    );
    assert.throws(
      () => fresh.decodeKnown(payload.subarray(0, payload.length - 3)),
      TruncatedPayloadError,
    );
    assert.throws(
      () => fresh.decodeKnown(Buffer.concat([payload, Buffer.from([1, 2, 3])])),
      CorruptPayloadError,
    );
  });

  it('decodes only the fields a selection lists, other records whole, with the same errors', async () => {
    const selection = {
      metadata: ['aggregateId', 'occurredAt'],
      events: { AssistantReplyRecorded: ['completionTokens'] },
    } as const;
    const value = set.byName('AssistantReplyRecorded')?.type.random() as never as {
      metadata: { aggregateId: string; occurredAt: number };
      completionTokens: number;
    };
    const { payload } = await serde.encode('AssistantReplyRecorded', value as never);
    const selected = await serde.decode(payload, { selection });
    assert.deepEqual(JSON.parse(JSON.stringify(selected.value)), {
      metadata: { aggregateId: value.metadata.aggregateId, occurredAt: value.metadata.occurredAt },
      completionTokens: value.completionTokens,
    });
    assert.deepEqual(serde.decodeKnown(payload, { selection }), selected);
    const archived = set.byName('ConversationArchived')?.type.random();
    const whole = await serde.encode('ConversationArchived', archived as never);
    assert.deepEqual(
      await serde.decode(whole.payload, { selection }),
      await serde.decode(whole.payload),
    );
    // The skipped fields are still read over: a record cut short or with bytes after it is refused.
    assert.throws(
      () => serde.decodeKnown(payload.subarray(0, payload.length - 3), { selection }),
      TruncatedPayloadError,
    );
    assert.throws(
      () => serde.decodeKnown(Buffer.concat([payload, Buffer.from([1, 2, 3])]), { selection }),
      CorruptPayloadError,
    );
  });

  it('writes standard bytes: Python fastavro decodes them through the registry', async () => {
    const python = testPython();
    const samples = ['UserRegistered', 'AssistantReplyRecorded', 'StartConversation'].map(
      (name) => {
        const type = set.byName(name)?.type;
        assert.ok(type);
        return { name, value: type.random() as unknown as Record<string, unknown> };
      },
    );
    const lines = [];
    for (const { name, value } of samples) {
      const { payload } = await serde.encode(name as never, value as never);
      lines.push(JSON.stringify({ payload: payload.toString('base64') }));
    }
    const result = spawnSync(
      python,
      [new URL('./fastavro-decode.py', import.meta.url).pathname, config.SCHEMA_REGISTRY_URL],
      {
        input: `${lines.join('\n')}\n`,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(result.status, 0, `fastavro (${python}) failed: ${result.stderr || result.error}`);
    const decoded = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const [i, { name, value }] of samples.entries()) {
      const type = set.byName(name)?.type;
      // Compare in JSON form, where bytes are base64 on both sides.
      const expected = JSON.parse(
        JSON.stringify(type?.toJSON?.() ? value : value, (_, v) =>
          v?.type === 'Buffer' ? Buffer.from(v.data).toString('base64') : v,
        ),
      );
      assert.deepEqual(decoded[i], expected, `${name} decoded by fastavro`);
    }
  });
});
