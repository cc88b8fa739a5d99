// kill -9 the command processor three times while 10,000 commands stream in, restarting it each
// time. Afterwards the acknowledged commands and the events in the log (read_committed) are the
// same set: nothing lost, nothing written twice, versions contiguous per aggregate.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { createProducer } from '@parley/platform/kafka';
import { createRedis } from '@parley/platform/redis';
import { redisReady, stackConfig } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { commandRecord } from '@parley/schemas/serde/command-record';
import type { Outcome } from '../src/outcomes/outcome.ts';
import { OUTCOME_CHANNEL, readOutcome } from '../src/outcomes/outcome-store.ts';
import { commandMetadata, ENTRIES, processorFixture } from './processor-fixture.ts';

// 200 commands per aggregate, far more than an aggregate remembers (64, ADR 0007): retries of
// commands decided long before are answered from the outcomes in Redis, which a new owner of a
// partition republishes for the transactions its predecessor may have died before publishing.
const AGGREGATES = 50;
const COMMANDS = Number(process.env.PARLEY_CRASH_COMMANDS ?? 10_000);
const KILLS = 3;

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let processor: ServiceProcess | undefined;
const config = stackConfig();
const subscriber = createRedis({ url: config.REDIS_URL, connectionName: 'crash-test-outcomes' });
const reader = createRedis({ url: config.REDIS_URL, connectionName: 'crash-test-reader' });
const outcomes = new Map<string, Outcome>();

async function startProcessor() {
  processor = await startService(
    ENTRIES['command-processor'],
    {
      TOPIC_PREFIX: fixture.topicPrefix,
      PROCESSOR_GROUP_ID: fixture.groupId,
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: process.env.PARLEY_CRASH_LOG_LEVEL ?? 'error',
    },
    'processor-crash-test',
  );
}

const kill9 = async () => processor?.kill9();

before(async () => {
  fixture = await processorFixture(6);
  await Promise.all([redisReady(subscriber), redisReady(reader)]);
  await subscriber.subscribe(OUTCOME_CHANNEL);
  subscriber.on('message', (_c, json: string) => {
    const outcome = JSON.parse(json) as Outcome;
    outcomes.set(outcome.commandId, outcome);
  });
  await startProcessor();
});

after(async () => {
  await kill9();
  subscriber.disconnect();
  reader.disconnect();
  await fixture.cleanup();
});

const meta = (aggregateId: string) => commandMetadata(aggregateId, owner);
const owner = randomUUID();

/**
 * Waits while outcomes keep arriving. Then, like clients that got no answer, resends the same
 * commands (same ids): the processor answers each with its first outcome.
 */
async function awaitAllOutcomes(
  sent: ReadonlyArray<{ commandId: string; record: Awaited<ReturnType<typeof commandRecord>> }>,
  resend: (messages: Array<Awaited<ReturnType<typeof commandRecord>>>) => Promise<unknown>,
) {
  const deadline = Date.now() + 300_000;
  let seen = -1;
  while (outcomes.size < sent.length) {
    assert.ok(Date.now() < deadline, `${sent.length - outcomes.size} commands without an outcome`);
    await new Promise((r) => setTimeout(r, 5000));
    process.stderr.write(`crash test: ${outcomes.size}/${sent.length} outcomes\n`);
    if (outcomes.size > seen) {
      seen = outcomes.size;
      continue;
    }
    for (const s of sent.filter((s) => !outcomes.has(s.commandId))) {
      const stored = await readOutcome(reader, s.commandId);
      if (stored) outcomes.set(s.commandId, stored);
    }
    const missing = sent.filter((s) => !outcomes.has(s.commandId));
    for (let i = 0; i < missing.length; i += 250) {
      await resend(missing.slice(i, i + 250).map((s) => s.record));
    }
  }
}

it(`loses and duplicates nothing across ${KILLS} kill -9 in ${COMMANDS} commands`, {
  timeout: 600_000,
}, async () => {
  const producer = createProducer(fixture.kafka, { idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const topic = fixture.chat?.commandTopic ?? '';
  const aggregates = Array.from({ length: AGGREGATES }, () => randomUUID());
  const sent: Array<{ commandId: string; record: Awaited<ReturnType<typeof commandRecord>> }> = [];
  for (const id of aggregates) {
    const m = meta(id);
    sent.push({
      commandId: m.commandId,
      record: await commandRecord(fixture.serde, 'StartConversation', {
        metadata: m,
        title: 'crash',
        encryptedTitle: null,
      }),
    });
  }
  for (let i = sent.length; i < COMMANDS; i++) {
    const m = meta(aggregates[i % AGGREGATES] as string);
    sent.push({
      commandId: m.commandId,
      record: await commandRecord(fixture.serde, 'PostUserMessage', {
        metadata: m,
        messageId: randomUUID(),
        text: `m${i}`,
        encryptedText: null,
      }),
    });
  }

  // Send the stream, and kill -9 the processor while it works through it: each time a further
  // quarter of the commands has been answered. Each restart fences, restores and goes on.
  const BATCH = 250;
  const sending = (async () => {
    for (let i = 0; i < sent.length; i += BATCH) {
      await producer.send({
        topic,
        acks: -1,
        messages: sent.slice(i, i + BATCH).map((s) => s.record),
      });
    }
  })();
  for (let k = 1; k <= KILLS; k++) {
    const threshold = Math.floor((k * COMMANDS) / (KILLS + 1));
    const waitUntil = Date.now() + 120_000;
    while (outcomes.size < threshold && Date.now() < waitUntil)
      await new Promise((r) => setTimeout(r, 20));
    await kill9();
    process.stderr.write(`crash test: kill -9 #${k} with ${outcomes.size}/${COMMANDS} answered\n`);
    await startProcessor();
  }
  await sending;

  await awaitAllOutcomes(sent, (messages) => producer.send({ topic, acks: -1, messages }));

  // Clients that never heard back resend, after the crashes: the first 10 commands (each more
  // than 64 commands back on its aggregate) and the last 10, 9 more times each. Every resend is
  // answered with the first outcome and writes nothing.
  const repeated = [...sent.slice(0, 10), ...sent.slice(-10)];
  const first = new Map(repeated.map((s) => [s.commandId, outcomes.get(s.commandId)]));
  for (const s of repeated) outcomes.delete(s.commandId);
  for (let i = 0; i < 9; i++) {
    await producer.send({ topic, acks: -1, messages: repeated.map((s) => s.record) });
  }
  const deadline = Date.now() + 60_000;
  while (repeated.some((s) => !outcomes.has(s.commandId)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  for (const s of repeated) assert.deepEqual(outcomes.get(s.commandId), first.get(s.commandId));
  await producer.disconnect();

  const acknowledged = new Set(
    sent.map((s) => s.commandId).filter((id) => outcomes.get(id)?.status === 'accepted'),
  );
  assert.equal(acknowledged.size, COMMANDS, 'every command was accepted');

  const events = await fixture.allEvents(fixture.chat?.eventsTopic ?? '');
  const causes = events.map((e) => e.causationId);
  assert.equal(new Set(causes).size, causes.length, 'no command wrote its events twice');
  assert.deepEqual(new Set(causes), acknowledged, 'events in the log = acknowledged commands');
  const versions = new Map<string, number[]>();
  for (const e of events)
    versions.set(e.aggregateId, [...(versions.get(e.aggregateId) ?? []), e.version]);
  for (const [id, list] of versions) {
    assert.deepEqual(
      list,
      Array.from({ length: list.length }, (_, i) => i + 1),
      `versions of ${id} are contiguous`,
    );
  }
});
