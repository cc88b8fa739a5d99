// The ops page in headless Chromium (Debian's chromium, driven by playwright-core) against a
// projectors process on the real stack: the page loads with an admin token typed in (keyboard
// only), shows a consumer group's lag that the test creates, shows a dead letter decoded, and a
// redrive from the page applies it to the read model. axe-core finds no serious or critical
// accessibility violation. The ops API refuses requests without a token, and non-admin tokens.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { quietLogger } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { type Browser, chromium, type Page } from 'playwright-core';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { storeSettings as settings } from '../projectors/src/config.ts';
import { connectStores } from '../projectors/src/dependencies.ts';
import { collections } from '../projectors/src/read-models/conversations/projection.ts';
import { DeadLetterWriter } from '../projectors/src/runtime/dead-letters.ts';
import {
  currentGeneration,
  ensureReadSchema,
  forgetBuild,
  recordBuild,
} from '../projectors/src/runtime/generations.ts';
import { groupOf } from '../projectors/src/runtime/projection.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);
const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
const entry = new URL('../projectors/src/server.ts', import.meta.url).pathname;

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let read: ReturnType<typeof connectStores>;
let producer: Producer;
let projectors: ServiceProcess;
let browser: Browser;
let namespace = '';

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (npm test installs Debian's)`);
  fixture = await processorFixture(2);
  await fixture.createDeadLetterTopics();
  namespace = namespaceOf(fixture.topicPrefix);
  read = connectStores(
    loadConfig(settings, { source: { ...process.env, ...keyEnv } }),
    quietLogger(),
    'ops-page-test',
  );
  producer = createProducer(read.kafka.kafka, { idempotent: true });
  await producer.connect();
  projectors = await startService(
    entry,
    {
      ...keyEnv,
      TOPIC_PREFIX: fixture.topicPrefix,
      PROJECTIONS: 'conversations',
      OPS_POLL_MS: '500',
      LOG_LEVEL: 'warn',
    },
    'ops-page-test-projectors',
  );
  await projectors.ready(60_000);
  // Chromium refuses to run as root with its sandbox on; the page is our own.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await projectors?.kill9();
  await producer?.disconnect();
  for (const r of read?.resources ?? []) await r.close().catch(() => {});
  await fixture?.cleanup();
});

const token = (roles: string[]) => signToken(key, { sub: randomUUID(), roles });

async function textOf(page: Page, selector: string) {
  return (await page.locator(selector).textContent()) ?? '';
}

async function waitForText(page: Page, selector: string, pattern: RegExp, what: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = await textOf(page, selector);
    if (pattern.test(text)) return text;
    await page.waitForTimeout(250);
  }
  assert.fail(
    `${what}: ${selector} never matched ${pattern}; it reads: ${await textOf(page, selector)}`,
  );
}

it('refuses the ops API without a token and to non-admins', async () => {
  const overview = `${projectors.url}/v1/ops/overview`;
  const none = await fetch(overview);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('content-type') ?? '', /application\/problem\+json/);
  const user = await fetch(overview, { headers: { authorization: `Bearer ${token(['user'])}` } });
  assert.equal(user.status, 403);
  const forged = signToken(createSigningKey(key.kid), { sub: randomUUID(), roles: ['admin'] });
  const refused = await fetch(overview, { headers: { authorization: `Bearer ${forged}` } });
  assert.equal(refused.status, 401, 'a token signed by another key with the same kid');
  const redrive = await fetch(`${projectors.url}/v1/ops/dead-letters/conversations/redrive`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(['analyst'])}` },
  });
  assert.equal(redrive.status, 403);
  const unknown = await fetch(`${projectors.url}/v1/ops/dead-letters/billing`, {
    headers: { authorization: `Bearer ${token(['admin'])}` },
  });
  assert.equal(unknown.status, 400);
});

it('shows lag a test creates and a dead letter, redrives it from the page, and is accessible', {
  timeout: 180_000,
}, async () => {
  // Lag: three commands nobody consumes, and a group placed at their start.
  const commands = fixture.chat?.commandTopic ?? '';
  await producer.send({
    topic: commands,
    messages: [0, 1, 2].map((i) => ({ key: 'k', value: Buffer.from(`cmd ${i}`), partition: 0 })),
  });
  const lagging = `${fixture.topicPrefix}ops-test-lagging`;
  await fixture.admin.setOffsets({
    groupId: lagging,
    topic: commands,
    partitions: [
      { partition: 0, offset: '0' },
      { partition: 1, offset: '0' },
    ],
  });
  // A dead letter: a conversation's start that once failed to apply (a bug since fixed).
  const conversationId = randomUUID();
  const { payload } = await fixture.serde.encode('ConversationStarted', {
    metadata: {
      eventId: randomUUID(),
      aggregateId: conversationId,
      aggregateVersion: 1,
      occurredAt: Date.now(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: 'system:test',
      tenantId: null,
    },
    ownerId: randomUUID(),
    title: 'Redriven from the ops page',
  } as never);
  const dlq = fixture.names.deadLetters(groupOf({ name: 'conversations' }));
  await new DeadLetterWriter(producer, dlq, 'conversations').write([
    {
      topic: fixture.chat?.eventsTopic ?? '',
      partition: 0,
      message: {
        key: Buffer.from(conversationId),
        value: payload,
        offset: '7',
        headers: {},
      } as never,
      error: new Error('a bug since fixed'),
    },
  ]);

  // A rebuild that started and has no consumer (it died, or has not joined yet).
  const buildKey = pointerKey(namespace, 'conversations');
  await ensureReadSchema(read.stores.pool);
  await recordBuild(read.stores.pool, buildKey, 99);

  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  await page.goto(`${projectors.url}/ops`);
  assert.equal(await page.title(), 'Parley operations');
  // Keyboard only: focus the labelled field, type, Enter.
  await page.getByLabel('Admin access token').focus();
  await page.keyboard.type(token(['admin']));
  await page.keyboard.press('Enter');

  const groups = await waitForText(
    page,
    '#groups',
    new RegExp(`${lagging.replace(/\./g, '\\.')}.*?${commands.replace(/\./g, '\\.')}03`),
    'the lagging group with 3 events on partition 0',
  );
  assert.match(groups, /projector\.conversations\.g1/, 'the live projection group too');
  await waitForText(page, '#dead-letters', /conversations1/, 'one dead letter waiting');
  await waitForText(page, '#services', /projectorsready/, 'this service ready');
  await waitForText(
    page,
    '#rebuilds',
    /conversations99.*no \(stopped or not started\)/,
    'the rebuild',
  );
  const metrics = await fetch(`${projectors.url}/metrics`).then((r) => r.text());
  assert.match(
    metrics,
    /projection_rebuild_progress_ratio\{projection="conversations",generation="99"[^}]*\} 0/,
    'its progress exported by the service',
  );
  await forgetBuild(read.stores.pool, buildKey, 99);
  await waitForText(page, '#rebuilds', /No rebuild in progress/, 'the rebuild gone');
  // Lag in seconds grows while nobody consumes.
  await waitForText(
    page,
    '#groups',
    new RegExp(`${lagging.replace(/\./g, '\\.')}.*?03([1-9]\\d*|0\\.[1-9])`),
    'lag in seconds above zero',
  );

  await page.getByRole('button', { name: 'Show the dead letters of conversations' }).click();
  const list = await waitForText(
    page,
    '#dead-letter-detail',
    /\d+:\d+ waiting: Error: a bug since fixed/,
    'the list',
  );
  const position = /(\d+:\d+) waiting/.exec(list)?.[1];
  await page.getByRole('button', { name: `Details of dead letter ${position}` }).click();
  const record = await waitForText(
    page,
    '#dead-letter-record',
    /ConversationStarted/,
    'the record decoded',
  );
  // Decoded, with what people wrote left out (as in an analyst's replay).
  assert.match(record, /"ownerId": "[0-9a-f-]{36}"/);
  assert.match(record, /"title": null/);
  assert.doesNotMatch(record, /Redriven from the ops page/);

  const axe = (await page.evaluate(
    `${axeSource}; axe.run(document, { resultTypes: ['violations'] })`,
  )) as { violations: Array<{ id: string; impact: string | null; help: string }> };
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help}`),
    [],
    'no serious accessibility violations',
  );

  // Redrive by keyboard.
  await page.getByRole('button', { name: 'Redrive the dead letters of conversations' }).focus();
  await page.keyboard.press('Enter');
  await waitForText(page, '#status', /conversations: 1 redriven, 0 still failing/, 'the redrive');
  const generation = {
    projection: pointerKey(namespace, 'conversations'),
    number:
      (await currentGeneration(read.stores.pool, pointerKey(namespace, 'conversations'))) ?? 1,
    namespace,
  };
  const doc = await collections(read.stores, generation).conversations.findOne({
    _id: conversationId,
  });
  assert.equal(doc?.title, 'Redriven from the ops page');
  await waitForText(page, '#dead-letters', /conversations0/, 'nothing waiting after the redrive');
  assert.deepEqual(failures, [], 'no script error on the page');
  await context.close();
});
