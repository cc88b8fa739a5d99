// Replays against the real stack, on topics of this test: time windows, offsets, counts, filters,
// follow mode ended by a signal, Parquet read back by DuckDB, no personal data in any format
// (also for an erased user), the same replay twice byte for byte, unreadable records skipped or
// stopping the run, and bad input refused.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { schemaRegistryOptions } from '@parley/platform/schema-registry';
import { stackConfig, testPython } from '@parley/platform/testing/fixtures';
import type { RecordName } from '@parley/schemas/generated/records';
import { writeHeaders } from '@parley/schemas/serde/headers';
import { processorFixture } from '../../command-api/test/processor-fixture.ts';
import { parseReplayArgs } from '../src/options.ts';
import { type ReplaySummary, replay } from '../src/replay.ts';
import type { ReplayedRecord } from '../src/replayed-record.ts';
import { openSink, type Sink } from '../src/sinks.ts';

const cli = new URL('../src/cli.ts', import.meta.url).pathname;
const python = testPython();
const HOUR = 3_600_000;
const T0 = Date.now() - 10 * HOUR;
const SECRET = 'my-secret-words';
const EMAIL = 'erased.person@example.com';

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let producer: Producer;
let dir: string;
const ids = {
  batchA: [] as string[],
  batchB: [] as string[],
  batchC: [] as string[],
  erased: randomUUID(),
  conversation: randomUUID(),
};

/** A sealed value as the command API writes it; bytes the replay must never show. */
const sealed = () => ({ keyId: 'k1', nonce: randomBytes(12), ciphertext: randomBytes(24) });

async function send(
  topic: string,
  type: RecordName,
  aggregateId: string,
  version: number,
  fields: Record<string, unknown>,
  timestamp: number,
  partition = 0,
) {
  const metadata = {
    eventId: randomUUID(),
    aggregateId,
    aggregateVersion: version,
    occurredAt: timestamp,
    correlationId: randomUUID(),
    causationId: randomUUID(),
    actor: `user:${ids.erased}`,
    tenantId: null,
  };
  const { payload, schemaId } = await fixture.serde.encode(type, { metadata, ...fields } as never);
  await producer.send({
    topic,
    messages: [
      {
        key: aggregateId,
        value: payload,
        partition,
        timestamp: String(timestamp),
        headers: writeHeaders({
          id: metadata.eventId,
          type,
          correlationId: metadata.correlationId,
          causationId: metadata.causationId,
          actor: metadata.actor,
          schemaId,
        }),
      },
    ],
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-replay-'));
  fixture = await processorFixture(2);
  producer = createProducer(fixture.kafka, { idempotent: true });
  await producer.connect();
  const chat = fixture.chat?.eventsTopic ?? '';
  const users = fixture.identity?.eventsTopic ?? '';
  // An account with personal data, a conversation of theirs with words in clear (an old event)
  // and sealed ones, then the account erased.
  await send(
    users,
    'UserRegistered',
    ids.erased,
    1,
    {
      email: sealed(),
      displayName: sealed(),
      role: 'user',
      locale: null,
    },
    T0,
  );
  await send(users, 'UserErased', ids.erased, 2, {}, T0 + 1000);
  await send(
    chat,
    'ConversationStarted',
    ids.conversation,
    1,
    {
      ownerId: ids.erased,
      title: SECRET,
      encryptedTitle: null,
    },
    T0,
  );
  // Three batches of messages at known times, an hour apart, on partition 0.
  let version = 1;
  for (const [batch, at, count] of [
    [ids.batchA, T0 + HOUR, 3],
    [ids.batchB, T0 + 2 * HOUR, 4],
    [ids.batchC, T0 + 3 * HOUR, 2],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const messageId = randomUUID();
      batch.push(messageId);
      await send(
        chat,
        'UserMessagePosted',
        ids.conversation,
        ++version,
        {
          messageId,
          authorId: ids.erased,
          text: `${SECRET} ${i}`,
          encryptedText: sealed(),
        },
        at + i,
      );
    }
  }
  // Another conversation on partition 1.
  await send(
    chat,
    'ConversationStarted',
    randomUUID(),
    1,
    {
      ownerId: randomUUID(),
      title: '',
      encryptedTitle: sealed(),
    },
    T0 + 4 * HOUR,
    1,
  );
});

after(async () => {
  await producer?.disconnect();
  await fixture?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function collector(): Sink & { records: ReplayedRecord[] } {
  const records: ReplayedRecord[] = [];
  return { records, write: async (r) => void records.push(r), close: async () => {} };
}

async function run(...args: string[]) {
  const sink = collector();
  const summary: ReplaySummary = await replay(
    parseReplayArgs(args),
    {
      kafka: fixture.kafka,
      admin: fixture.admin,
      serde: fixture.serde,
      schemas: fixture.serde.schemas,
      names: fixture.names,
    },
    { sink: () => sink },
  );
  return { records: sink.records, summary };
}

const env = () => ({ ...process.env, TOPIC_PREFIX: fixture.topicPrefix, PARLEY_ENV: 'test' });
function cliRun(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--conditions=parley-source', '--import', 'tsx', cli, ...args],
    { env: env(), encoding: 'utf8', timeout: 120_000 },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const messageIds = (records: ReplayedRecord[]) =>
  records.map((r) => (r.value as { messageId?: string }).messageId).filter(Boolean);

describe('replay', () => {
  it('returns exactly the middle batch for a window between two times', async () => {
    const from = new Date(T0 + 1.5 * HOUR).toISOString();
    const to = new Date(T0 + 2.5 * HOUR).toISOString();
    const { records, summary } = await run('chat', '--from', from, '--to', to);
    assert.deepEqual(messageIds(records), ids.batchB);
    assert.equal(summary.written, 4);
    assert.ok(records.every((r) => Date.parse(r.timestamp) >= Date.parse(from)));
  });

  it('starts and stops at offsets, counts, and filters by type, aggregate and expression', async () => {
    const byOffset = await run('chat', '--partitions', '0', '--from', '0:2', '--to', '0:5');
    assert.deepEqual(
      byOffset.records.map((r) => r.offset),
      ['2', '3', '4'],
    );
    const counted = await run('chat', '--count', '2');
    assert.equal(counted.records.length, 2);
    const typed = await run('chat', '--type', 'ConversationStarted');
    assert.equal(typed.records.length, 2);
    assert.equal(typed.summary.read, 11, 'every record read, two matched');
    const aggregate = await run('chat', '--aggregate', ids.conversation);
    assert.equal(aggregate.records.length, 10);
    const where = await run('chat', '--where', 'type == "UserMessagePosted" and offset >= 8');
    assert.deepEqual(messageIds(where.records), ids.batchC);
    const user = await run('identity', '--user', ids.erased);
    assert.deepEqual(
      user.records.map((r) => r.type),
      ['UserRegistered', 'UserErased'],
    );
  });

  it('writes no personal data in any format, also of an erased user, the same bytes twice', async () => {
    const ndjson = join(dir, 'a.ndjson');
    const again = join(dir, 'b.ndjson');
    const csv = join(dir, 'c.csv');
    const parquet = join(dir, 'd.parquet');
    for (const [target, out, extra] of [
      ['chat', ndjson, []],
      ['chat', again, []],
      [
        'chat',
        csv,
        ['--format', 'csv', '--fields', 'offset,type,value.text,value.title,value.authorId'],
      ],
      ['chat', parquet, ['--format', 'parquet']],
      ['identity', join(dir, 'users.ndjson'), []],
    ] as const) {
      const result = cliRun(target, '--out', out, ...extra);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /"summary"/);
    }
    assert.ok(readFileSync(ndjson).equals(readFileSync(again)), 'byte-identical');
    const lines = readFileSync(ndjson, 'utf8').trim().split('\n');
    assert.equal(lines.length, 11);
    const first = JSON.parse(lines[0] ?? '{}');
    assert.deepEqual(Object.keys(first), [
      'topic',
      'partition',
      'offset',
      'timestamp',
      'headers',
      'type',
      'value',
    ]);
    for (const file of [ndjson, csv, parquet, join(dir, 'users.ndjson')]) {
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(SECRET), `${file}: no text in clear`);
      assert.ok(!bytes.includes(EMAIL), `${file}: no email`);
    }
    const user = JSON.parse(readFileSync(join(dir, 'users.ndjson'), 'utf8').split('\n')[0] ?? '');
    assert.equal(user.value.email, null);
    assert.equal(user.value.displayName, null);
    assert.equal(user.value.role, 'user');
    const message = lines.map((l) => JSON.parse(l)).find((r) => r.type === 'UserMessagePosted');
    assert.equal(message.value.text, null);
    assert.equal(message.value.encryptedText, null);
    const csvLines = readFileSync(csv, 'utf8').trim().split('\r\n');
    assert.equal(csvLines[0], 'offset,type,value.text,value.title,value.authorId');
    assert.equal(csvLines.length, 12);

    // DuckDB reads the Parquet file: rows, columns, types.
    const duck = spawnSync(
      python,
      [
        '-c',
        `import duckdb, json, sys
q = """select count(*), count(distinct type), min(partition), max("offset"), typeof(any_value("timestamp")), count(*) filter (where json_extract_string(value, '$.metadata.aggregateId') = aggregate_id) from read_parquet($1)"""
r = duckdb.execute(q, [sys.argv[1]]).fetchone()
cols = [c[0] for c in duckdb.execute("describe select * from read_parquet($1)", [sys.argv[1]]).fetchall()]
print(json.dumps({"row": [str(x) for x in r], "cols": cols}))`,
        parquet,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(duck.status, 0, duck.stderr);
    const read = JSON.parse(duck.stdout);
    assert.deepEqual(read.cols, [
      'topic',
      'partition',
      'offset',
      'timestamp',
      'type',
      'aggregate_id',
      'value',
    ]);
    assert.deepEqual(read.row.slice(0, 4), ['11', '2', '0', '9']);
    assert.match(read.row[4], /TIMESTAMP/);
    // The value column is the JSON document itself, not a JSON string holding it.
    assert.equal(read.row[5], '11', 'DuckDB reads fields inside the value');
  });

  it('writes the same bytes whichever thread formats a slice (the worker, or the consumer while the worker is behind)', async () => {
    const deps = {
      kafka: fixture.kafka,
      admin: fixture.admin,
      serde: fixture.serde,
      schemas: fixture.serde.schemas,
      names: fixture.names,
    };
    const registry = schemaRegistryOptions(stackConfig());
    for (const [name, extra] of [
      ['ndjson', []],
      ['csv', ['--format', 'csv', '--fields', 'offset,type,value.authorId,headers']],
      ['parquet', ['--format', 'parquet']],
      ['fields.parquet', ['--format', 'parquet', '--fields', 'offset,type,value.authorId']],
    ] as const) {
      const args = (out: string) => parseReplayArgs(['chat', '--out', out, ...extra]);
      const alone = join(dir, `alone.${name}`);
      const expected = await replay(args(alone), deps, {
        sink: () => openSink(args(alone).format, args(alone)),
      });
      // A slice per record: with none in flight allowed, the consumer formats every slice; with
      // one, the two threads share them.
      for (const inFlight of [0, 1, 24]) {
        const shared = join(dir, `shared-${inFlight}.${name}`);
        const summary = await replay(args(shared), deps, { worker: registry, slice: 1, inFlight });
        assert.ok(
          readFileSync(shared).equals(readFileSync(alone)),
          `${name}, ${inFlight} in flight`,
        );
        assert.deepEqual({ ...summary, seconds: 0 }, { ...expected, seconds: 0 });
      }
    }
  });

  it('follows new records until a signal, then ends with its summary', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      ['--conditions=parley-source', '--import', 'tsx', cli, 'chat', '--follow', '--from', '0:10'],
      { env: env() },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const messageId = randomUUID();
    const deadline = Date.now() + 60_000;
    after(() => child.kill('SIGKILL'));
    // Sent until it shows: the follower may not have joined yet for the first one.
    let version = 100;
    while (!stdout.includes(messageId)) {
      assert.ok(Date.now() < deadline, `not followed; stderr: ${stderr}`);
      await send(
        fixture.chat?.eventsTopic ?? '',
        'UserMessagePosted',
        ids.conversation,
        ++version,
        {
          messageId,
          authorId: ids.erased,
          text: 'later',
          encryptedText: null,
        },
        Date.now(),
      );
      await new Promise((r) => setTimeout(r, 1000));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /"summary":\{"topic":"[^"]+","read":\d+/);
  });

  it('reports an unreadable record by position: skipped, or stopping the run', async () => {
    const topic = fixture.identity?.eventsTopic ?? '';
    await producer.send({
      topic,
      messages: [{ key: 'x', value: Buffer.from([0, 0, 0, 0, 1, 9, 9]), partition: 1 }],
    });
    const skipped = cliRun('identity', '--partitions', '1');
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stderr, new RegExp(`unreadable record at ${topic}:1:0`));
    assert.match(skipped.stderr, /"skipped":1/);
    const stopped = cliRun('identity', '--partitions', '1', '--on-error', 'stop');
    assert.equal(stopped.code, 65, stopped.stderr);
    assert.match(stopped.stderr, /cannot be read/);
  });

  it('refuses bad input with a message and a non-zero exit', () => {
    const unknown = cliRun('billing');
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown topic or context 'billing'/);
    const future = cliRun('chat', '--from', '2999-01-01T00:00:00Z');
    assert.equal(future.code, 64);
    assert.match(future.stderr, /in the future/);
    const partition = cliRun('chat', '--partitions', '7');
    assert.equal(partition.code, 64);
    assert.match(partition.stderr, /has no partition 7/);
  });
});
