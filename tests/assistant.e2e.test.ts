// The assistant end to end, every part its own process on topics of this test: the command API and
// processor, the projectors, the query API and the assistant reactor with the offline model at a
// slow pace (so a reply can be watched, dropped, stopped and killed mid-way). Over HTTP: a message
// gets a reply streamed on the conversation's event stream and recorded in the read models, with
// its tokens in the usage; a dropped stream resumes with nothing lost or repeated; a reply can be
// stopped and asked for again; an untitled conversation gets a title; over quota nothing reaches
// the model; a reactor killed mid-reply records exactly one reply; a failing and a stalling model
// end in a recorded failure; a rebuild of every projection asks the model nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { namespaceOf } from '@parley/platform/read-model-names';
import { quietLogger } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { storeSettings as projectorSettings } from '../projectors/src/config.ts';
import { connectStores, projectorContext } from '../projectors/src/dependencies.ts';
import { PROJECTIONS } from '../projectors/src/read-models/index.ts';
import { rebuild } from '../projectors/src/rebuild.ts';
import { projectionMetrics } from '../projectors/src/runtime/metrics.ts';
import { openEventStream, type StreamEvent } from '../query-api/test/helper.ts';
import { promtoolPath } from './promtool.ts';
import { SERVICE_ENTRIES } from './service-entries.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
const entries = SERVICE_ENTRIES;
type Service = keyof typeof entries;
/** The offline model's pace here: about 60 words at 25 a second, a reply takes 2 to 3 seconds. */
const PACE = { ASSISTANT_OFFLINE_TOKENS_PER_SECOND: '25', ASSISTANT_OFFLINE_FIRST_TOKEN_MS: '200' };

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let read: ReturnType<typeof connectStores>;
let producer: Producer;
const services = new Map<Service, ServiceProcess>();

async function start(name: Service, env: Record<string, string> = {}) {
  const service = await startService(
    entries[name],
    {
      ...keyEnv,
      TOPIC_PREFIX: fixture.topicPrefix,
      PROCESSOR_GROUP_ID: fixture.groupId,
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      COMMAND_OUTCOME_WAIT_MS: '5000',
      READ_RATE_LIMIT_PER_MINUTE: '100000',
      WRITE_RATE_LIMIT_PER_MINUTE: '100000',
      GENERATION_CACHE_MS: '200',
      LOG_LEVEL: 'warn',
      // Analysts get two messages a day here, admins one token: the quota tests use them.
      QUOTA_MESSAGES_PER_DAY: 'user=1000,admin=1000,analyst=2',
      QUOTA_TOKENS_PER_DAY: 'user=1000000,admin=1,analyst=1000000',
      ...PACE,
      ...env,
    },
    `assistant-test.${name}`,
  );
  services.set(name, service);
  await service.ready(120_000);
  return service;
}

before(async () => {
  fixture = await processorFixture(3);
  await fixture.createDeadLetterTopics();
  read = connectStores(
    loadConfig(projectorSettings, {
      source: { ...process.env, PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '' },
    }),
    quietLogger(),
    'assistant-test',
  );
  producer = createProducer(read.kafka.kafka, { idempotent: true });
  await producer.connect();
  for (const name of [
    'command-processor',
    'command-api',
    'projectors',
    'query-api',
    'assistant',
  ] as const) {
    await start(name);
  }
});

after(async () => {
  for (const service of services.values()) await service.kill9();
  await producer?.disconnect().catch(() => {});
  for (const r of read?.resources ?? []) await r.close().catch(() => {});
  await fixture.cleanup();
});

const url = (service: Service, path: string) => `${services.get(service)?.url}${path}`;

/** A person: a token for a user id of their own (no registration needed for chat). */
function person(role: 'user' | 'analyst' | 'admin' = 'user') {
  const userId = randomUUID();
  const token = signToken(key, { sub: userId, roles: [role], expiresIn: 3600 });
  return {
    userId,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  };
}
type Person = ReturnType<typeof person>;

async function command(who: Person, method: string, path: string, body?: object) {
  const res = await fetch(url('command-api', path), {
    method,
    headers: who.headers,
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: res.status,
    body: (await res.json().catch(() => ({}))) as Record<string, unknown>,
  };
}

async function conversation(who: Person, title?: string) {
  const res = await command(who, 'POST', '/v1/conversations', title ? { title } : {});
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return String(res.body.aggregateId);
}

async function post(who: Person, conversationId: string, text: string) {
  const messageId = randomUUID();
  const res = await command(who, 'POST', `/v1/conversations/${conversationId}/messages`, {
    text,
    messageId,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return messageId;
}

/** The conversation's event stream, once the read side has the conversation (it trails). */
async function events(who: Person, conversationId: string, lastEventId?: string) {
  await until(async () => {
    const res = await fetch(url('query-api', `/v1/conversations/${conversationId}`), {
      headers: { authorization: who.headers.authorization },
    });
    return res.status === 200;
  }, 'the conversation on the read side');
  const stream = await openEventStream(
    url('query-api', `/v1/conversations/${conversationId}/events`),
    {
      authorization: who.headers.authorization,
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
  );
  assert.equal(stream.status, 200);
  return stream;
}

const replyTo = (messageId: string) => (e: StreamEvent) =>
  e.event === 'reply-started' && e.data?.replyTo === messageId;
const ended = (replyId: unknown) => (e: StreamEvent) =>
  ['reply-finished', 'reply-stopped', 'reply-failed'].includes(e.event ?? '') &&
  e.data?.replyId === replyId;
const textOf = (all: StreamEvent[], replyId: unknown) =>
  all
    .filter((e) => e.event === 'reply-delta' && e.data?.replyId === replyId)
    .map((e) => e.data?.text)
    .join('');

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function messages(who: Person, conversationId: string) {
  const res = await fetch(
    url('query-api', `/v1/conversations/${conversationId}/messages?limit=50`),
    {
      headers: { authorization: who.headers.authorization },
    },
  );
  if (res.status !== 200) return [];
  return ((await res.json()) as { items: Array<Record<string, unknown>> }).items;
}

/** The assistant's count of requests to the model, from its /metrics. */
async function modelCalls(): Promise<number> {
  const text = await fetch(url('assistant', '/metrics')).then((r) => r.text());
  return Number(/^assistant_model_calls_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

/** The recorded replies to a message, from the log (read_committed). */
async function recordedReplies(messageId: string) {
  const all = await fixture.allEvents(fixture.chat?.eventsTopic ?? '');
  return all.filter(
    (e) =>
      (e.type === 'AssistantReplyRecorded' || e.type === 'AssistantReplyFailed') &&
      e.value.replyTo === messageId,
  );
}

describe('the assistant', () => {
  it('streams a reply to a message (started, deltas, finished), records it, and counts its tokens', async () => {
    const ann = person();
    const id = await conversation(ann, 'Trip to Lisbon');
    const stream = await events(ann, id);
    assert.equal(stream.status, 200);
    const messageId = await post(ann, id, 'Where should we eat in Lisbon tonight?');
    const seen = await stream.waitFor((all) => {
      const started = all.find(replyTo(messageId));
      return Boolean(started && all.some(ended(started.data?.replyId)));
    });
    stream.close();
    const started = seen.find(replyTo(messageId));
    const replyId = started?.data?.replyId;
    const types = seen.filter((e) => e.data?.replyId === replyId).map((e) => e.event);
    assert.equal(types[0], 'reply-started');
    assert.equal(types.at(-1), 'reply-finished');
    assert.ok(types.filter((t) => t === 'reply-delta').length > 3, 'token by token');
    const text = textOf(seen, replyId);
    assert.match(text, /^You asked about “Where should we eat in Lisbon tonight\?”/);
    const finished = seen.find(ended(replyId));
    const usage = finished?.data?.usage as { outputTokens: number } | undefined;
    assert.ok((usage?.outputTokens ?? 0) > 10);

    const stored = await until(async () => {
      const items = await messages(ann, id);
      const reply = items.find((m) => m.role === 'assistant' && m.replyTo === messageId);
      return reply && items;
    }, 'the reply in the conversation');
    const reply = stored.find((m) => m.role === 'assistant');
    assert.equal(reply?.text, text);
    assert.equal(reply?.outcome, 'finished');

    const today = await until(async () => {
      const res = await fetch(url('query-api', '/v1/usage'), {
        headers: { authorization: ann.headers.authorization },
      });
      const body = (await res.json()) as { days?: Array<Record<string, number>> };
      const day = body.days?.[0];
      return day && (day.completionTokens ?? 0) > 0 && day;
    }, 'the tokens in the usage');
    assert.equal(today.messages, 1);
    assert.equal(today.replies, 1);
  });

  it('serves on every service /metrics that `promtool check metrics` accepts', async () => {
    for (const service of services.keys()) {
      const res = await fetch(url(service, '/metrics'));
      assert.equal(res.status, 200, service);
      const text = await res.text();
      assert.match(text, /^# HELP /m, service);
      // promtool prints each problem (and exits 3); the lint holds on the text as scraped.
      const checked = spawnSync(promtoolPath(), ['check', 'metrics'], { input: text });
      assert.equal(checked.status, 0, `${service}: ${checked.stdout}${checked.stderr}`);
    }
  });

  it('resumes the stream of a reply after a dropped connection: the whole text, nothing twice', async () => {
    const ann = person();
    const id = await conversation(ann, 'Resume');
    const first = await events(ann, id);
    const messageId = await post(ann, id, 'Tell me about trains in Portugal please');
    const before = await first.waitFor(
      (all) => all.filter((e) => e.event === 'reply-delta').length >= 3,
    );
    first.close();
    const lastId = before.at(-1)?.id;
    assert.ok(lastId?.includes('~'), `a cursor id: ${lastId}`);
    const replyId = before.find(replyTo(messageId))?.data?.replyId;
    const second = await events(ann, id, lastId);
    const after = await second.waitFor((all) => all.some(ended(replyId)));
    second.close();
    const whole = textOf(before, replyId) + textOf(after, replyId);
    const recorded = await until(async () => {
      const items = await messages(ann, id);
      return items.find((m) => m.replyTo === messageId);
    }, 'the recorded reply');
    assert.equal(whole, recorded.text, 'the deltas before and after add up to the reply');
    assert.equal(
      after.filter((e) => e.event === 'reply-started').length,
      0,
      'no repeat of the start',
    );
  });

  it('stops a reply mid-way (the partial text recorded as stopped) and gives another on request, both kept', async () => {
    const ann = person();
    const id = await conversation(ann, 'Stop and again');
    const stream = await events(ann, id);
    const messageId = await post(ann, id, 'Write me a long story about the sea and its ships');
    await stream.waitFor((all) => all.filter((e) => e.event === 'reply-delta').length >= 2);
    const stopped = await command(
      ann,
      'POST',
      `/v1/conversations/${id}/messages/${messageId}/stop`,
    );
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    const seen = await stream.waitFor((all) => all.some((e) => e.event === 'reply-stopped'));
    const firstReply = seen.find(replyTo(messageId))?.data?.replyId;
    const partial = textOf(seen, firstReply);
    const first = await until(async () => {
      const items = await messages(ann, id);
      return items.find((m) => m.replyTo === messageId && m.outcome === 'stopped');
    }, 'the stopped reply recorded');
    assert.ok(String(first.text).length > 0);
    assert.ok(partial.startsWith(String(first.text).slice(0, 10)));

    const again = await command(
      ann,
      'POST',
      `/v1/conversations/${id}/messages/${messageId}/regenerate`,
    );
    assert.equal(again.status, 200, JSON.stringify(again.body));
    await stream.waitFor(
      (all) =>
        all.filter((e) => e.event === 'reply-started' && e.data?.replyTo === messageId).length ===
          2 && all.filter((e) => e.event === 'reply-finished').length === 1,
    );
    stream.close();
    const replies = await until(async () => {
      const items = (await messages(ann, id)).filter((m) => m.replyTo === messageId);
      return items.length === 2 && items;
    }, 'both replies in the conversation');
    assert.deepEqual(replies.map((r) => r.outcome).sort(), ['finished', 'stopped']);
    // Stopping a reply no longer being written is refused.
    const late = await command(ann, 'POST', `/v1/conversations/${id}/messages/${messageId}/stop`);
    assert.equal(late.status, 422);
  });

  it('asks the model nothing for a reply stopped before the assistant reached its message', async () => {
    const ann = person();
    const id = await conversation(ann, 'Never mind');
    const stream = await events(ann, id);
    const assistant = services.get('assistant');
    assert.ok(assistant);
    const calls = await modelCalls();
    // The reactor frozen: the message and its stop are both written before it can read either.
    assistant.signal('SIGSTOP');
    let messageId: string;
    try {
      messageId = await post(ann, id, 'Tell me everything about the moon');
      const stopped = await command(
        ann,
        'POST',
        `/v1/conversations/${id}/messages/${messageId}/stop`,
      );
      assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    } finally {
      assistant.signal('SIGCONT');
    }
    const seen = await stream.waitFor((all) => all.some((e) => e.event === 'reply-stopped'));
    stream.close();
    const replyId = seen.find(replyTo(messageId))?.data?.replyId;
    assert.ok(replyId, 'the reply began, then stopped');
    assert.equal(textOf(seen, replyId), '', 'no text streamed');
    const recorded = await until(async () => {
      const items = await messages(ann, id);
      return items.find((m) => m.replyTo === messageId && m.outcome === 'stopped');
    }, 'the stopped reply recorded');
    assert.equal(recorded.text, '');
    assert.equal(await modelCalls(), calls, 'the model was not asked');
  });

  it('gives an untitled conversation the assistant’s title after the first exchange, its tokens counted', async () => {
    const ann = person();
    const id = await conversation(ann);
    const messageId = await post(ann, id, 'Planning a garden with tomatoes and basil');
    const titled = await until(async () => {
      const res = await fetch(url('query-api', `/v1/conversations/${id}`), {
        headers: { authorization: ann.headers.authorization },
      });
      const body = (await res.json()) as { title?: string | null };
      return body.title ? body : undefined;
    }, 'the proposed title');
    assert.equal(titled.title, 'Planning a garden with tomatoes and');

    // The day's usage holds the reply's tokens and the title's.
    const [reply] = await recordedReplies(messageId);
    const title = (await fixture.allEvents(fixture.chat?.eventsTopic ?? '')).find(
      (e) => e.type === 'ConversationRenamed' && e.aggregateId === id,
    );
    assert.ok(reply && title);
    const tokens = (e: typeof reply) => ({
      prompt: Number(e.value.promptTokens),
      completion: Number(e.value.completionTokens),
    });
    assert.ok(tokens(title).prompt > 0 && tokens(title).completion > 0, 'the title cost tokens');
    const expected = {
      promptTokens: tokens(reply).prompt + tokens(title).prompt,
      completionTokens: tokens(reply).completion + tokens(title).completion,
    };
    await until(
      async () => {
        const res = await fetch(url('query-api', '/v1/usage'), {
          headers: { authorization: ann.headers.authorization },
        });
        const day = ((await res.json()) as { days?: Array<Record<string, number>> }).days?.[0];
        return (
          day?.promptTokens === expected.promptTokens &&
          day.completionTokens === expected.completionTokens
        );
      },
      `the usage at ${JSON.stringify(expected)}`,
    );
  });

  it('refuses a message over the daily quota with 429 and the reset time, before any model call', async () => {
    const analyst = person('analyst');
    const id = await conversation(analyst, 'Quota');
    const messageId = await post(analyst, id, 'first of two');
    await until(async () => (await recordedReplies(messageId)).length === 1, 'the first reply');
    await post(analyst, id, 'second of two');
    await new Promise((r) => setTimeout(r, 500));
    const calls = await until(
      async () => {
        const before = await modelCalls();
        await new Promise((r) => setTimeout(r, 4_000));
        return (await modelCalls()) === before && before;
      },
      'the assistant idle',
      60_000,
    );
    const res = await command(analyst, 'POST', `/v1/conversations/${id}/messages`, {
      text: 'third',
    });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.code, 'QUOTA_EXCEEDED');
    assert.match(String(res.body.resetAt), /T00:00:00\.000Z$/);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(await modelCalls(), calls, 'no model call for the refused message');
  });

  it('refuses a message with 429 once the day’s tokens reach the quota', async () => {
    const admin = person('admin');
    const id = await conversation(admin, 'Tokens');
    const messageId = await post(admin, id, 'One question, then no more tokens today');
    const [reply] = await until(async () => {
      const found = await recordedReplies(messageId);
      return found.length === 1 && found;
    }, 'the reply');
    assert.ok(Number(reply?.value.completionTokens) > 1, 'the reply used the day’s token');
    // The reactor counts the tokens as it records the reply; let it finish.
    await new Promise((r) => setTimeout(r, 1_000));
    const calls = await modelCalls();
    const res = await command(admin, 'POST', `/v1/conversations/${id}/messages`, {
      text: 'And another?',
    });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.code, 'QUOTA_EXCEEDED');
    assert.equal(res.body.quota, 'tokens');
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await modelCalls(), calls, 'no model call for the refused message');
  });

  it('records exactly one reply for a message whose reactor was killed (-9) mid-reply', async () => {
    const ann = person();
    const id = await conversation(ann, 'Crash');
    const stream = await events(ann, id);
    const messageId = await post(ann, id, 'Explain the tides slowly and in detail');
    await stream.waitFor((all) => all.filter((e) => e.event === 'reply-delta').length >= 2);
    stream.close();
    await services.get('assistant')?.kill9();
    await start('assistant');
    const replies = await until(
      async () => {
        const found = await recordedReplies(messageId);
        return found.length > 0 && found;
      },
      'the reply after the restart',
      90_000,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await recordedReplies(messageId)).length, 1, 'exactly one reply recorded');
    assert.equal(replies[0]?.type, 'AssistantReplyRecorded');
  });

  it('records a failure, and ends the stream with it, for a model that fails and one that stalls', async () => {
    const cases: Array<{ model: string; reason: string; env: Record<string, string> }> = [
      { model: 'offline:fail', reason: 'provider_error', env: { ASSISTANT_RETRIES: '1' } },
      {
        model: 'offline:stall',
        reason: 'first_token_timeout',
        env: { ASSISTANT_RETRIES: '0', ASSISTANT_FIRST_TOKEN_TIMEOUT_MS: '1000' },
      },
    ];
    const ann = person();
    try {
      for (const c of cases) {
        services.get('assistant')?.signal('SIGTERM');
        await services.get('assistant')?.exited;
        await start('assistant', { ASSISTANT_MODEL: c.model, ...c.env });
        const id = await conversation(ann, c.model);
        const stream = await events(ann, id);
        const posted = Date.now();
        const messageId = await post(ann, id, 'Anyone there?');
        const seen = await stream.waitFor(
          (all) => all.some((e) => e.event === 'reply-failed'),
          30_000,
        );
        stream.close();
        assert.equal(seen.find((e) => e.event === 'reply-failed')?.data?.reason, c.reason);
        assert.ok(Date.now() - posted < 20_000, `${c.model}: failed in time`);
        const failed = await until(async () => {
          const items = await messages(ann, id);
          return items.find((m) => m.replyTo === messageId);
        }, `${c.model}: the failure in the conversation`);
        assert.equal(failed.outcome, 'failed');
        assert.equal(failed.text, null);
      }
    } finally {
      services.get('assistant')?.signal('SIGTERM');
      await services.get('assistant')?.exited;
      await start('assistant');
    }
  });

  it('asks the model nothing while every projection is rebuilt from zero', async () => {
    const before = await modelCalls();
    const namespace = namespaceOf(fixture.topicPrefix);
    const context = projectorContext(read, {
      producer,
      names: fixture.names,
      log: quietLogger(),
      metrics: projectionMetrics(createMetricsRegistry('assistant-test')),
    });
    for (const projection of PROJECTIONS) {
      const result = await rebuild({
        ...context,
        projection,
        namespace,
        switchGraceMs: 500,
        report: () => {},
      });
      assert.ok(result.generation >= 2);
    }
    assert.equal(await modelCalls(), before, 'no model call for a rebuild');
  });
});
