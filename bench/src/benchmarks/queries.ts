/**
 * queries: the two reads the apps make most, `GET /v1/conversations/:id` (one conversation with
 * its latest messages) and `GET /v1/conversations` (my conversations), on the real query API as
 * its own process, at increasing concurrency (autocannon), beside a same-run baseline: bare
 * Fastify routes in a process of their own reading the same Redis views with ioredis and
 * answering the same JSON (bench/src/read-baseline-server.ts).
 *
 * Seed: users (token subjects) start conversations and post messages through the real command
 * API and processor; the projectors (conversations and views) build the read models; every
 * conversation and list is read once before measuring, so the measured reads are Redis hits.
 * Each concurrency is measured on the baseline and then on the query API, so drift on this
 * shared machine falls on both.
 */

import { viewKeys } from '@parley/platform/read-model-names';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import type { BenchContext } from '../context.ts';
import { type CannonStep, cannon, within } from '../load.ts';
import { coresBusy, peakRssBytes, writeResult } from '../measure.ts';
import {
  apiClient,
  type Conversation,
  countersSince,
  type Parley,
  type Person,
  REPO,
  readCounters,
  seedConversations,
  startParley,
  stopServices,
} from '../parley.ts';

const USERS = 100;
const CONVERSATIONS_PER_USER = 10;
const CONCURRENCIES = [1, 8, 32, 128];
const STEP_SECONDS = 10;
const WARM_UP_SECONDS = 3;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

/** Every conversation and list read once (fills, JIT), and the answers checked. */
async function readEverythingOnce(parley: Parley, conversations: Conversation[], people: Person[]) {
  const client = apiClient(parley.queryApi.url, 32);
  try {
    for (const c of conversations) {
      const read = await client.send('GET', `/v1/conversations/${c.id}`, c.owner.token, {
        headers: { 'x-min-version': String(c.version) },
      });
      if (read.status !== 200 || read.headers['x-view-stale']) {
        throw new Error(`conversation ${c.id} at v${c.version}: ${read.status} ${read.text}`);
      }
    }
    for (const person of people) {
      for (let round = 0; round < 2; round++) {
        const read = await client.send('GET', '/v1/conversations', person.token);
        const items = (JSON.parse(read.text) as { items?: unknown[] }).items ?? [];
        if (read.status !== 200 || items.length !== CONVERSATIONS_PER_USER) {
          throw new Error(`list of ${person.id}: ${read.status} ${read.text.slice(0, 300)}`);
        }
        if (round === 1 && read.headers['x-read-source'] !== 'redis') {
          throw new Error(`list of ${person.id} not served from Redis after a read`);
        }
      }
    }
  } finally {
    await client.close();
  }
}

interface Route {
  name: 'conversation' | 'list';
  /** The next request on the query API and on the baseline, the same user's token on both. */
  next(): { query: string; baseline: string; token: string };
}

async function measureRoute(
  route: Route,
  servers: {
    queryApi: { url: string; cpuSeconds(): number };
    baseline: { url: string; cpuSeconds(): number };
  },
  seconds: number,
) {
  const step = async (side: 'queryApi' | 'baseline', connections: number, stepSeconds: number) => {
    const server = servers[side];
    const cores = coresBusy({ server });
    const result = await cannon({
      url: server.url,
      connections,
      seconds: stepSeconds,
      next: () => {
        const next = route.next();
        return {
          path: side === 'queryApi' ? next.query : next.baseline,
          headers: { authorization: `Bearer ${next.token}` },
        };
      },
    });
    if (Object.keys(result.non2xx).length > 0 || result.errors > 0) {
      throw new Error(`${route.name} on ${side}: ${JSON.stringify(result)}`);
    }
    return { ...result, coresBusy: cores.read() };
  };
  await step('baseline', 8, WARM_UP_SECONDS);
  await step('queryApi', 8, WARM_UP_SECONDS);
  const counters = await readCounters(servers.queryApi);
  const steps: Record<'baseline' | 'queryApi', Array<CannonStep & { coresBusy: object }>> = {
    baseline: [],
    queryApi: [],
  };
  for (const connections of CONCURRENCIES) {
    for (const side of ['baseline', 'queryApi'] as const) {
      const result = await step(side, connections, seconds);
      steps[side].push(result);
      process.stderr.write(
        `queries: ${route.name} ${side} ${connections} connections: ${result.reqPerSec} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms\n`,
      );
    }
  }
  const peak = (list: CannonStep[]) =>
    list.reduce((best, s) => (s.reqPerSec > best.reqPerSec ? s : best));
  const baselinePeak = peak(steps.baseline);
  const queryPeak = peak(steps.queryApi);
  const reads = countersSince(counters, await readCounters(servers.queryApi));
  const atBaselinePeak = steps.queryApi.find((s) => s.connections === baselinePeak.connections);
  return {
    result: {
      baseline: { steps: steps.baseline, peakConnections: baselinePeak.connections },
      queryApi: {
        steps: steps.queryApi,
        peakConnections: queryPeak.connections,
        reads,
        // A degraded read (Redis breaker open) or a database read would not be the Redis path.
        servedFromRedis: !Object.keys(reads).some(
          (k) => k.includes('degraded') || k.startsWith('database_reads'),
        ),
      },
    },
    ratioReqPerSec: ratio(queryPeak.reqPerSec, baselinePeak.reqPerSec),
    ratioP99: ratio(atBaselinePeak?.latencyMs.p99 ?? 0, baselinePeak.latencyMs.p99),
  };
}

export async function queriesBench(context: BenchContext) {
  const seconds = context.seconds ?? STEP_SECONDS;
  const conversationCount = USERS * CONVERSATIONS_PER_USER;
  const messages = Math.max(1, Math.round((context.events ?? 10_000) / conversationCount));
  const parley = await startParley(context, {
    label: 'q',
    partitions: 6,
    projections: ['conversations', 'views'],
  });
  const started: ServiceProcess[] = [];
  try {
    process.stderr.write(
      `queries: seeding ${USERS} users, ${conversationCount} conversations, ${messages} messages each\n`,
    );
    const seedStarted = performance.now();
    const conversations = await within(
      seedConversations(parley, {
        users: USERS,
        perUser: CONVERSATIONS_PER_USER,
        messages,
        concurrency: 64,
      }),
      10 * 60_000,
      'queries: seeding',
    );
    await parley.caughtUp(5 * 60_000);
    const seedSeconds = Math.round((performance.now() - seedStarted) / 100) / 10;
    const people = [...new Map(conversations.map((c) => [c.owner.id, c.owner])).values()];
    await within(
      readEverythingOnce(parley, conversations, people),
      5 * 60_000,
      'queries: first reads',
    );
    process.stderr.write(`queries: seeded and read once in ${seedSeconds} s\n`);

    const baseline = await startService(
      `${REPO}bench/src/read-baseline-server.ts`,
      { VIEWS_PREFIX: viewKeys({ namespace: parley.namespace, number: 1 }).prefix },
      'bench-read-baseline',
      // PARLEY_BENCH_PROFILE=1: a CPU profile beside the services' (.data/profiles).
      process.env.PARLEY_BENCH_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${REPO}.data/profiles`]
        : [],
    );
    started.push(baseline);
    await baseline.ready();

    let turn = 0;
    const conversation = await measureRoute(
      {
        name: 'conversation',
        next: () => {
          const c = conversations[turn++ % conversations.length] as Conversation;
          return {
            query: `/v1/conversations/${c.id}`,
            baseline: `/conversations/${c.id}`,
            token: c.owner.token,
          };
        },
      },
      { queryApi: parley.queryApi, baseline },
      seconds,
    );
    // The query API's Redis breaker never closes once open (see README): a route whose reads
    // went degraded leaves the next one a fresh query API process.
    let queryApiPeakRss = 0;
    if (!conversation.result.queryApi.servedFromRedis) {
      process.stderr.write('queries: query API reads went degraded; restarting it\n');
      queryApiPeakRss = await parley.restartQueryApi();
    }
    const list = await measureRoute(
      {
        name: 'list',
        next: () => {
          const person = people[turn++ % people.length] as Person;
          return {
            query: '/v1/conversations',
            baseline: `/lists/${person.id}`,
            token: person.token,
          };
        },
      },
      { queryApi: parley.queryApi, baseline },
      seconds,
    );
    const rss = {
      queryApi: Math.max(queryApiPeakRss, parley.queryApi.peakRssBytes()),
      readBaseline: baseline.peakRssBytes(),
    };

    return writeResult('queries', {
      setup: {
        users: USERS,
        conversations: conversationCount,
        messagesPerConversation: messages,
        messageBytes: 200,
        seedSeconds,
        concurrencies: CONCURRENCIES,
        stepSeconds: seconds,
        note: 'autocannon in the bench process, keep-alive, no compression asked for; each user reads only their own conversations; the query API checks the ES256 token, counts the per-user rate limit (in memory, shared through Redis; set to 1,000,000/min) and reads the Redis views; the baseline reads the same views with no token check or rate limit. Everything shares 2 cores with Kafka, Redis, PostgreSQL, SecantusDB and the idle write side.',
      },
      conversation: conversation.result,
      list: list.result,
      ratioConversationReqPerSecToBaseline: conversation.ratioReqPerSec,
      ratioConversationP99ToBaseline: conversation.ratioP99,
      ratioListReqPerSecToBaseline: list.ratioReqPerSec,
      ratioListP99ToBaseline: list.ratioP99,
      targets: { ratioReqPerSecToBaseline: '>= 0.6', ratioP99ToBaseline: '< 2' },
      peakRssBytes: { ...rss, bench: peakRssBytes() },
    });
  } finally {
    await stopServices(started, 'queries');
    await parley.stop();
  }
}
