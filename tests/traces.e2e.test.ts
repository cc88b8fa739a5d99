// One trace end to end, every part its own process with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an OTLP/HTTP receiver in this test, which keeps the spans in memory): a message
// posted with a W3C traceparent gives one trace whose spans cover every hop, each the child of
// the one before: the HTTP request, the command processor, the projections, the push on the
// conversation's event stream, the assistant with its model call, and the processor again for
// the recorded reply. The log lines of the request carry the trace id.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { openEventStream } from '../query-api/test/helper.ts';
import { SERVICE_ENTRIES } from './service-entries.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
const entries = SERVICE_ENTRIES;
type Service = keyof typeof entries;

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

/** What an OTLP/HTTP exporter sends (JSON encoding), reduced to what this test reads. */
interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: { stringValue?: string } }> };
    scopeSpans?: Array<{
      spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string }>;
    }>;
  }>;
}

const received: ReceivedSpan[] = [];
let collector: Server;
let fixture: Awaited<ReturnType<typeof processorFixture>>;
const services = new Map<Service, ServiceProcess>();

function collect(body: ExportRequest) {
  for (const resource of body.resourceSpans ?? []) {
    const service =
      resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ??
      '?';
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        received.push({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
        });
      }
    }
  }
}

before(async () => {
  collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      try {
        collect(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  fixture = await processorFixture(3);
  await fixture.createDeadLetterTopics();
  for (const name of [
    'command-processor',
    'command-api',
    'projectors',
    'query-api',
    'assistant',
  ] as const) {
    const service = await startService(
      entries[name],
      {
        ...keyEnv,
        TOPIC_PREFIX: fixture.topicPrefix,
        PROCESSOR_GROUP_ID: fixture.groupId,
        PROCESSOR_SESSION_TIMEOUT_MS: '6000',
        COMMAND_OUTCOME_WAIT_MS: '5000',
        GENERATION_CACHE_MS: '200',
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        // Spans leave each process within a fifth of a second (the default waits 5 s).
        OTEL_BSP_SCHEDULE_DELAY: '200',
        ASSISTANT_OFFLINE_TOKENS_PER_SECOND: '200',
      },
      `traces-test.${name}`,
    );
    services.set(name, service);
    await service.ready(120_000);
  }
});

after(async () => {
  for (const service of services.values()) await service.kill9();
  await fixture?.cleanup();
  collector?.close();
});

const url = (service: Service, path: string) => `${services.get(service)?.url}${path}`;

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The spans every hop of a posted message must give, by service. */
const HOPS: ReadonlyArray<[service: string, name: RegExp]> = [
  ['command-api', /^POST \/v1\/conversations\/:id\/messages$/],
  ['command-processor', /^process PostUserMessage$/],
  ['projectors', /^project conversations UserMessagePosted$/],
  ['projectors', /^project views UserMessagePosted$/],
  ['projectors', /^project usage-daily UserMessagePosted$/],
  ['query-api', /^push conversation events$/],
  ['assistant', /^assistant UserMessagePosted$/],
  ['assistant', /^model stream$/],
  ['command-processor', /^process RecordAssistantReply$/],
  ['projectors', /^project views AssistantReplyRecorded$/],
];

it('follows one message through every hop in one trace', { timeout: 300_000 }, async () => {
  const userId = randomUUID();
  const token = signToken(key, { sub: userId, roles: ['user'], expiresIn: 3600 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(url('command-api', '/v1/conversations'), {
    method: 'POST',
    headers,
    body: JSON.stringify({ title: 'Traced' }),
  });
  assert.equal(created.status, 201);
  const { aggregateId } = (await created.json()) as { aggregateId: string };
  await until(
    async () =>
      (await fetch(url('query-api', `/v1/conversations/${aggregateId}`), { headers })).status ===
      200,
    'the conversation on the read side',
  );
  const stream = await openEventStream(
    url('query-api', `/v1/conversations/${aggregateId}/events`),
    {
      authorization: headers.authorization,
    },
  );
  assert.equal(stream.status, 200);

  // The caller's own trace: everything below must continue it.
  const traceId = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const posted = await fetch(url('command-api', `/v1/conversations/${aggregateId}/messages`), {
    method: 'POST',
    headers: { ...headers, traceparent: `00-${traceId}-${callerSpan}-01` },
    body: JSON.stringify({ text: 'Where does this go?', messageId: randomUUID() }),
  });
  assert.equal(posted.status, 201);
  await stream.waitFor((events) => events.some((e) => e.event === 'reply-finished'), 60_000);
  stream.close();

  const spans = await until(() => {
    const ours = received.filter((s) => s.traceId === traceId);
    const covered = HOPS.every(([service, name]) =>
      ours.some((s) => s.service === service && name.test(s.name)),
    );
    return Promise.resolve(covered && ours);
  }, `every hop in trace ${traceId}`).catch((error: unknown) => {
    const seen = received
      .filter((s) => s.traceId === traceId)
      .map((s) => `${s.service}: ${s.name}`);
    throw new Error(`${(error as Error).message}; seen: ${JSON.stringify(seen)}`);
  });

  // One tree: the request's span is the caller's child, and every other span's parent is a span
  // of this same trace.
  const ids = new Set(spans.map((s) => s.spanId));
  const request = spans.find((s) => s.service === 'command-api' && HOPS[0]?.[1].test(s.name));
  assert.equal(request?.parentSpanId, callerSpan);
  for (const span of spans) {
    if (span === request) continue;
    assert.ok(ids.has(span.parentSpanId), `${span.service} ${span.name}: parent in the trace`);
  }
  // Each hop is the child of the hop before it.
  const parentOf = (service: string, name: RegExp) => {
    const span = spans.find((s) => s.service === service && name.test(s.name));
    return spans.find((s) => s.spanId === span?.parentSpanId);
  };
  assert.equal(parentOf('command-processor', /^process PostUserMessage$/)?.spanId, request?.spanId);
  assert.match(parentOf('projectors', /^project views UserMessagePosted$/)?.name ?? '', /^process/);
  assert.match(parentOf('query-api', /^push conversation events$/)?.name ?? '', /^project views/);
  assert.match(parentOf('assistant', /^assistant UserMessagePosted$/)?.name ?? '', /^process/);
  assert.match(parentOf('assistant', /^model stream$/)?.name ?? '', /^assistant/);
  assert.match(
    parentOf('command-processor', /^process RecordAssistantReply$/)?.service ?? '',
    /^assistant$/,
  );

  // The request's log line carries the trace id.
  const log = readFileSync(
    new URL('../.data/logs/traces-test.command-api.log', import.meta.url),
    'utf8',
  );
  const line = log
    .split('\n')
    .find((l) => l.includes('/messages') && l.includes('request completed') && l.includes(traceId));
  assert.ok(line, 'a log line of the request with its trace id');
  assert.equal((JSON.parse(line) as { traceId?: string }).traceId, traceId);
});
