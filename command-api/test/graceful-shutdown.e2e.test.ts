// SIGTERM, as Kubernetes sends it on a rollout. The command API answers every request it has
// taken before it exits; the processor finishes its current transaction and leaves its group, so
// a successor takes over at once and nothing is lost or written twice.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createProducer } from '@parley/platform/kafka';
import { createRedis } from '@parley/platform/redis';
import { redisReady, stackConfig } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { commandRecord } from '@parley/schemas/serde/command-record';
import type { Outcome } from '../src/outcomes/outcome.ts';
import { OUTCOME_CHANNEL } from '../src/outcomes/outcome-store.ts';
import { commandMetadata, ENTRIES, processorFixture } from './processor-fixture.ts';

let fixture: Awaited<ReturnType<typeof processorFixture>>;
const running: ServiceProcess[] = [];
const config = stackConfig();
const subscriber = createRedis({ url: config.REDIS_URL, connectionName: 'shutdown-test' });
const outcomes = new Map<string, Outcome>();
const key = createSigningKey();
const alice = randomUUID();

async function start(service: 'command-api' | 'command-processor', env: Record<string, string>) {
  const started = await startService(
    ENTRIES[service],
    {
      TOPIC_PREFIX: fixture.topicPrefix,
      PROCESSOR_GROUP_ID: fixture.groupId,
      ...serviceKeyEnv(key),
      LOG_LEVEL: 'warn',
      ...env,
    },
    `graceful-shutdown-test.${service}`,
  );
  running.push(started);
  await started.ready();
  return started;
}

/** The events caused by these commands (the topic is shared by both tests). */
async function eventsOf(ids: readonly string[]) {
  const wanted = new Set(ids);
  const events = await fixture.allEvents(fixture.chat?.eventsTopic ?? '');
  return events.filter((e) => wanted.has(e.causationId));
}

const outcomesFor = (ids: readonly string[]) => ids.filter((id) => outcomes.has(id)).length;

async function until(condition: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  fixture = await processorFixture(3);
  await redisReady(subscriber);
  await subscriber.subscribe(OUTCOME_CHANNEL);
  subscriber.on('message', (_c, json: string) => {
    const outcome = JSON.parse(json) as Outcome;
    outcomes.set(outcome.commandId, outcome);
  });
});

after(async () => {
  for (const service of running) await service.kill9();
  subscriber.disconnect();
  await fixture.cleanup();
});

/** 40 requests wait for outcomes (the processor frozen) when SIGTERM comes; all get answered. */
async function drainsRequests(processor: ServiceProcess, api: ServiceProcess) {
  const auth = { authorization: `Bearer ${signToken(key, { sub: alice })}` };
  const post = (path: string, body: unknown) =>
    fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const created = await post('/v1/conversations', { title: 'Rollout' });
  assert.equal(created.status, 201);
  const { aggregateId } = (await created.json()) as { aggregateId: string };

  // Freeze the processor, so 40 posts are taken and wait for their outcomes; then SIGTERM.
  processor.signal('SIGSTOP');
  const responses = Array.from({ length: 40 }, (_, i) =>
    post(`/v1/conversations/${aggregateId}/messages`, { text: `m${i}` }).then(
      async (r) => ({
        status: r.status,
        version: ((await r.json()) as { version?: number }).version,
      }),
      () => ({ status: 0, version: undefined }),
    ),
  );
  await new Promise((r) => setTimeout(r, 1500));
  api.signal('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(api.child.exitCode, null, 'still draining while requests wait');
  processor.signal('SIGCONT');

  const answered = await Promise.all(responses);
  assert.deepEqual(
    answered.map((r) => r.status),
    Array(40).fill(201),
    'every request in flight got its answer',
  );
  assert.deepEqual(
    answered.map((r) => r.version).sort((a = 0, b = 0) => a - b),
    Array.from({ length: 40 }, (_, i) => i + 2),
  );
  assert.equal(await api.exited, 0, 'exits cleanly once drained');
  const refused = await fetch(`${api.url}/health/live`).then(
    () => 'answered',
    () => 'refused',
  );
  assert.equal(refused, 'refused', 'takes no new connections');
  processor.signal('SIGTERM');
  assert.equal(await processor.exited, 0);
}

describe('graceful shutdown', () => {
  it('the command API answers every request in flight before it exits', {
    timeout: 120_000,
  }, async () => {
    const processor = await start('command-processor', {});
    // Alice sends thousands of commands in seconds: far over a user's minute of them.
    const api = await start('command-api', {
      COMMAND_OUTCOME_WAIT_MS: '20000',
      WRITE_RATE_LIMIT_PER_MINUTE: '100000',
    });
    try {
      await drainsRequests(processor, api);
    } finally {
      processor.signal('SIGCONT');
      await api.kill9();
      await processor.kill9();
    }
  });

  it('the processor finishes its transaction and hands over at once; nothing lost or doubled', {
    timeout: 180_000,
  }, async () => {
    // A session timeout far above the hand-over bound: only a clean leave lets the successor in.
    const sessionTimeout = { PROCESSOR_SESSION_TIMEOUT_MS: '60000' };
    const first = await start('command-processor', sessionTimeout);
    const producer = createProducer(fixture.kafka, { idempotent: true });
    await producer.connect();
    const topic = fixture.chat?.commandTopic ?? '';
    const conversations = Array.from({ length: 30 }, () => randomUUID());
    const ids: string[] = [];
    const records = [];
    for (const id of conversations) {
      const metadata = commandMetadata(id, alice);
      ids.push(metadata.commandId);
      records.push(
        await commandRecord(fixture.serde, 'StartConversation', {
          metadata,
          title: 't',
          encryptedTitle: null,
        }),
      );
    }
    for (let i = 0; i < 3000; i++) {
      const metadata = commandMetadata(conversations[i % 30] as string, alice);
      ids.push(metadata.commandId);
      records.push(
        await commandRecord(fixture.serde, 'PostUserMessage', {
          metadata,
          messageId: randomUUID(),
          text: `m${i}`,
          encryptedText: null,
        }),
      );
    }
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 500) });
    }
    await producer.disconnect();

    await until(() => outcomesFor(ids) >= 300, 60_000, 'the first outcomes');
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0, 'exits cleanly');
    // Everything committed was announced: no transaction was cut between commit and outcome.
    const eventsAtExit = await eventsOf(ids);
    assert.equal(eventsAtExit.length, outcomesFor(ids));
    assert.ok(eventsAtExit.length < ids.length, 'stopped part-way through the stream');

    const handover = Date.now();
    const before = outcomesFor(ids);
    await start('command-processor', sessionTimeout);
    await until(() => outcomesFor(ids) > before, 30_000, 'the successor to take over');
    assert.ok(Date.now() - handover < 30_000, 'took over well before the session timeout');
    await until(() => outcomesFor(ids) === ids.length, 120_000, 'every outcome');

    const events = await eventsOf(ids);
    const causes = events.map((e) => e.causationId);
    assert.equal(new Set(causes).size, causes.length, 'no command written twice');
    assert.deepEqual(new Set(causes), new Set(ids), 'no command lost');
  });
});
