// The whole product as processes (command API, command processor, projectors) while clients send
// commands over HTTP, and the infrastructure fails under them: the Kafka broker is restarted, the
// processor is killed (-9) and started again, Redis is restarted. Clients do what a mobile app
// does: retry with the same Idempotency-Key on 5xx, timeouts and refused connections, and poll a
// 202. Afterwards every acknowledged command is exactly one event in the log (read_committed, by
// command id), versions are contiguous per aggregate, and every read model equals a rebuild from
// offset zero (checksums).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '@parley/platform/config';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { quietLogger } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { ENTRIES, processorFixture } from '../command-api/test/processor-fixture.ts';
import { storeSettings as projectorSettings } from '../projectors/src/config.ts';
import { connectStores, projectorContext } from '../projectors/src/dependencies.ts';
import { PROJECTIONS } from '../projectors/src/read-models/index.ts';
import { rebuild } from '../projectors/src/rebuild.ts';
import { currentGeneration } from '../projectors/src/runtime/generations.ts';
import { projectionMetrics } from '../projectors/src/runtime/metrics.ts';
import { groupIdOf } from '../projectors/src/runtime/runner.ts';

const CLIENTS = 6;
const stack = new URL('../infra/local/stack.sh', import.meta.url).pathname;
const projectorEntry = new URL('../projectors/src/server.ts', import.meta.url).pathname;
const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let read: ReturnType<typeof connectStores>;
let producer: Producer;
let namespace = '';
const services = new Map<string, ServiceProcess>();

function log(line: string) {
  process.stderr.write(`broker restart test: ${line}\n`);
}

async function start(name: 'command-api' | 'command-processor' | 'projectors') {
  const entry = name === 'projectors' ? projectorEntry : ENTRIES[name];
  const service = await startService(
    entry,
    {
      ...keyEnv,
      TOPIC_PREFIX: fixture.topicPrefix,
      PROCESSOR_GROUP_ID: fixture.groupId,
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      COMMAND_OUTCOME_WAIT_MS: '3000',
      AUTH_RATE_LIMIT_PER_MINUTE: '100000',
      WRITE_RATE_LIMIT_PER_MINUTE: '100000',
      LOG_LEVEL: process.env.PARLEY_E2E_LOG_LEVEL ?? 'warn',
      CONSUMER_LAG_INTERVAL_MS: '1000',
    },
    `broker-restart-test.${name}`,
  );
  services.set(name, service);
  await service.ready(120_000);
  return service;
}

/**
 * Restarts one service of the local stack, as `npm run stack -- restart <name>` does, without
 * blocking this process: the clients keep sending while it is down.
 */
async function restartStack(service: 'kafka' | 'redis') {
  await promisify(execFile)('bash', [stack, 'restart', service], { timeout: 180_000 });
}

before(async () => {
  fixture = await processorFixture(3);
  await fixture.createDeadLetterTopics();
  namespace = namespaceOf(fixture.topicPrefix);
  read = connectStores(
    loadConfig(projectorSettings, {
      source: { ...process.env, PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '' },
    }),
    quietLogger(),
    'broker-restart-test',
  );
  producer = createProducer(read.kafka.kafka, { idempotent: true });
  await producer.connect();
  await start('command-processor');
  await start('command-api');
  await start('projectors');
});

after(async () => {
  for (const service of services.values()) await service.kill9();
  await producer?.disconnect().catch(() => {});
  for (const r of read?.resources ?? []) await r.close().catch(() => {});
  await fixture.cleanup();
});

interface Acknowledged {
  commandId: string;
  aggregateId: string;
}

/** One client: a user starting conversations and posting to them, retrying like an app. */
async function client(userId: string, running: () => boolean) {
  const token = signToken(key, { sub: userId, expiresIn: 3600 });
  const apiUrl = () => services.get('command-api')?.url ?? '';
  const acknowledged: Acknowledged[] = [];
  const pending: string[] = [];
  const conversations: string[] = [];
  let retries = 0;
  /** Sends one command until it is answered; the same Idempotency-Key on every try. */
  const send = async (path: string, body: object) => {
    const idempotencyKey = randomUUID();
    const deadline = Date.now() + 180_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `no answer for ${path} in 3 minutes`);
      const res = await fetch(`${apiUrl()}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      }).catch(() => undefined);
      if (res && (res.status === 201 || res.status === 200)) {
        const answer = (await res.json()) as Acknowledged;
        acknowledged.push(answer);
        return answer;
      }
      if (res && res.status === 202) {
        pending.push(((await res.json()) as { commandId: string }).commandId);
        return undefined;
      }
      if (res && res.status < 500 && res.status !== 429) {
        assert.fail(`${path}: unexpected ${res.status} ${await res.text()}`);
      }
      retries += 1;
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
    }
  };
  while (running()) {
    if (conversations.length === 0 || Math.random() < 0.2) {
      const started = await send('/v1/conversations', {
        title: `Topic ${randomUUID().slice(0, 6)}`,
      });
      if (started) conversations.push(started.aggregateId);
    } else {
      const id = conversations[Math.floor(Math.random() * conversations.length)];
      await send(`/v1/conversations/${id}/messages`, {
        text: `message ${randomUUID().slice(0, 8)}`,
      });
    }
  }
  return { acknowledged, pending, retries, token };
}

/** A 202 is answered in the end: GET /v1/commands/{id} gives the outcome to its sender. */
async function outcomeOf(commandId: string, token: string): Promise<Acknowledged> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    assert.ok(Date.now() < deadline, `no outcome for the 202'd command ${commandId}`);
    const res = await fetch(`${services.get('command-api')?.url}/v1/commands/${commandId}`, {
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => undefined);
    if (res?.status === 200) return (await res.json()) as Acknowledged;
    assert.ok(!res || [202, 503].includes(res.status), `GET /v1/commands: ${res?.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function caughtUp(): Promise<boolean> {
  for (const projection of PROJECTIONS) {
    const number =
      (await currentGeneration(read.stores.pool, pointerKey(namespace, projection.name))) ?? 1;
    const groupId = groupIdOf(projection, { projection: projection.name, number, namespace });
    const topics = projection.topics(fixture.names);
    const committed = await fixture.admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const heads = await fixture.admin.fetchTopicOffsets(topic);
      const at = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const { partition, high } of heads) {
        const offset = Number(at.find((p) => p.partition === partition)?.offset ?? -1);
        if (Number(high) > 0 && offset < Number(high)) return false;
      }
    }
  }
  return true;
}

it('loses and duplicates nothing through a broker restart, a processor kill -9 and a Redis restart', {
  timeout: 900_000,
}, async () => {
  let running = true;
  const users = Array.from({ length: CLIENTS }, () => randomUUID());
  const clients = users.map((u) => client(u, () => running));

  await new Promise((r) => setTimeout(r, 5_000));
  log('restarting the Kafka broker');
  await restartStack('kafka');
  log('broker back');
  await new Promise((r) => setTimeout(r, 5_000));
  log('kill -9 the command processor');
  await services.get('command-processor')?.kill9();
  await new Promise((r) => setTimeout(r, 1_000));
  await start('command-processor');
  log('processor back');
  await new Promise((r) => setTimeout(r, 3_000));
  log('restarting Redis');
  await restartStack('redis');
  log('redis back');
  await new Promise((r) => setTimeout(r, 5_000));
  running = false;
  const results = await Promise.all(clients);

  const acknowledged = results.flatMap((r) => r.acknowledged);
  for (const r of results) {
    for (const commandId of r.pending) acknowledged.push(await outcomeOf(commandId, r.token));
  }
  log(
    `${acknowledged.length} commands acknowledged, ${results.reduce((n, r) => n + r.pending.length, 0)} of them after a 202, ${results.reduce((n, r) => n + r.retries, 0)} retries`,
  );
  assert.ok(acknowledged.length > 100, 'enough commands went through');

  // The log, read_committed: one event per acknowledged command, contiguous versions.
  const events = await fixture.allEvents(fixture.chat?.eventsTopic ?? '');
  const byCommand = new Map<string, number>();
  for (const e of events) byCommand.set(e.causationId, (byCommand.get(e.causationId) ?? 0) + 1);
  const lost = acknowledged.filter((a) => !byCommand.has(a.commandId));
  assert.deepEqual(lost, [], 'acknowledged commands missing from the log');
  const twice = [...byCommand].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], 'commands with more than one event');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique');
  const versions = new Map<string, number[]>();
  for (const e of events)
    versions.set(e.aggregateId, [...(versions.get(e.aggregateId) ?? []), e.version]);
  for (const [aggregateId, list] of versions) {
    assert.deepEqual(
      [...list].sort((a, b) => a - b),
      list.map((_, i) => i + 1),
      `versions of ${aggregateId} are contiguous from 1`,
    );
  }

  // The processor reports its lag, measured from the brokers.
  const metrics = await fetch(`${services.get('command-processor')?.url}/metrics`).then((r) =>
    r.text(),
  );
  assert.match(metrics, /kafka_consumer_group_lag_events\{[^}]*group="[^"]*processor"/);

  // Every read model equals a rebuild from zero.
  const deadline = Date.now() + 300_000;
  while (!(await caughtUp())) {
    assert.ok(Date.now() < deadline, 'the projectors caught up');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const projector = services.get('projectors');
  projector?.signal('SIGTERM');
  assert.equal(await projector?.exited, 0);
  services.delete('projectors');
  const context = () =>
    projectorContext(read, {
      producer,
      names: fixture.names,
      log: quietLogger(),
      metrics: projectionMetrics(createMetricsRegistry('broker-restart-test')),
    });
  for (const projection of PROJECTIONS) {
    const pointer = pointerKey(namespace, projection.name);
    const live = {
      projection: pointer,
      number: (await currentGeneration(read.stores.pool, pointer)) ?? 1,
      namespace,
    };
    const before = await projection.checksum(read.stores, live);
    const rebuilt = await rebuild({
      ...context(),
      projection,
      namespace,
      switchGraceMs: 0,
      report: () => {},
    });
    assert.equal(
      rebuilt.checksum,
      before,
      `${projection.name}: after the failures = rebuilt from zero`,
    );
    await projection.drop(read.stores, {
      projection: pointer,
      number: rebuilt.generation,
      namespace,
    });
    await projection.drop(read.stores, live);
  }
});
