/**
 * freshness: how soon a write can be read. Clients post messages at a fixed rate (open loop; 250,
 * 500, 750, then 1,000 commands/s, up to the first rate not kept up with, or down to 125 and 60
 * when 250 is not) to the real command API; as soon as a command is answered 201 with its
 * version, the client reads the conversation from the real query API with
 * `X-Min-Version: <version>` (the query API answers once the views projection's progress message
 * says the view reached it) and checks the ETag; an answer marked X-View-Stale is asked again.
 * The delay is from the 201 to the answer that shows the version.
 *
 * Baseline, same run: raw Kafka produce -> consume latency at the same rate (a kafkajs producer,
 * acks=all, one send per message, and a consumer on a topic of the bench's own).
 *
 * The write side, the projectors (views only: the one read model this read waits on) and the
 * query API run as their own processes on topics of this run.
 */
import { createKafka } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import type { BenchContext } from '../context.ts';
import { kafkaLatency } from '../kafka-latency.ts';
import { openLoop, within } from '../load.ts';
import { coresBusy, peakRssBytes, percentiles, writeResult } from '../measure.ts';
import {
  apiClient,
  type Conversation,
  countersSince,
  MESSAGE_TEXT,
  type Parley,
  readCounters,
  seedConversations,
  startParley,
} from '../parley.ts';

/** Offered rates, commands/s, tried in turn up to the target of about 1,000... */
const RATES_UP = [250, 500, 750, 1_000];
/** ...or down from the first when the machine does not keep up with it. */
const RATES_DOWN = [125, 60];
const WARM_UP_RATES = [50, 150, 300];
const SECONDS = 20;
const USERS = 100;
const CONVERSATIONS_PER_USER = 10;
const PARTITIONS = 6;
/** A run whose write-then-read p99 (from each job's scheduled start) passes this fell behind. */
const SUSTAINED_P99_MS = 1_000;
/** A command or read not done by then counts as failed (and the run goes on). */
const JOB_TIMEOUT_MS = 30_000;
/** How long one read may wait for the version inside the query API (MIN_VERSION_WAIT_MS). */
const MIN_VERSION_WAIT_MS = 10_000;

/** Post a message, then read it back; `seconds` at `perSec` commands per second. */
async function writeThenRead(
  parley: Parley,
  conversations: Conversation[],
  perSec: number,
  seconds: number,
) {
  const commands = apiClient(parley.commandApi.url, 512);
  const reads = apiClient(parley.queryApi.url, 512);
  const freshness: number[] = [];
  const commandMs: number[] = [];
  let staleAnswers = 0;
  let turn = 0;
  const job = async () => {
    const c = conversations[turn++ % conversations.length] as Conversation;
    const sent = performance.now();
    const { version } = await commands.command(
      `/v1/conversations/${c.id}/messages`,
      c.owner.token,
      { text: MESSAGE_TEXT },
    );
    const accepted = performance.now();
    commandMs.push(accepted - sent);
    for (;;) {
      const read = await reads.send('GET', `/v1/conversations/${c.id}`, c.owner.token, {
        headers: { 'x-min-version': String(version) },
      });
      if (read.status !== 200) throw new Error(`read: ${read.status} ${read.text.slice(0, 160)}`);
      if (Number(String(read.headers.etag).replace(/\D/g, '')) >= version) break;
      staleAnswers += 1;
      if (performance.now() - accepted > JOB_TIMEOUT_MS) throw new Error('version not visible');
    }
    freshness.push(performance.now() - accepted);
    return true;
  };
  // Every job, to let the slow ones finish before the next run; and why jobs failed.
  const inFlight = new Set<Promise<boolean>>();
  const reasons: Record<string, number> = {};
  const tracked = () => {
    const running = job();
    inFlight.add(running);
    return running
      .catch((error: unknown) => {
        const reason = String(error instanceof Error ? error.message : error).slice(0, 200);
        if (Object.keys(reasons).length < 5 || reason in reasons) {
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        }
        throw error;
      })
      .finally(() => inFlight.delete(running));
  };
  const cores = coresBusy({
    commandApi: parley.commandApi,
    commandProcessor: parley.processor,
    projectors: parley.projectors,
    queryApi: parley.queryApi,
  });
  const counters = await readCounters(parley.queryApi);
  try {
    const loop = await openLoop(perSec, seconds, () =>
      within(tracked(), 2 * JOB_TIMEOUT_MS, 'a command and its read'),
    );
    const busy = cores.read();
    await within(Promise.allSettled(inFlight), 4 * JOB_TIMEOUT_MS, 'freshness: draining');
    return {
      offeredPerSec: perSec,
      achievedPerSec: loop.eventsPerSec,
      // Kept up: (almost) the rate offered, nothing failed, no backlog building behind the loop.
      sustained:
        loop.failures === 0 &&
        loop.eventsPerSec >= perSec * 0.95 &&
        loop.latencyMs.p99 < SUSTAINED_P99_MS,
      commands: loop.events,
      failures: loop.failures,
      failureReasons: reasons,
      freshnessMs: percentiles(freshness),
      commandMs: percentiles(commandMs),
      fromScheduledStartMs: loop.latencyMs,
      staleAnswers,
      queryApiReads: countersSince(counters, await readCounters(parley.queryApi)),
      coresBusy: busy,
    };
  } finally {
    await Promise.all([commands.close(), reads.close()]);
  }
}

export async function freshnessBench(context: BenchContext) {
  const seconds = context.seconds ?? SECONDS;
  const parley = await startParley(context, {
    label: 'f',
    partitions: PARTITIONS,
    projections: ['views'],
    queryApiEnv: { MIN_VERSION_WAIT_MS: String(MIN_VERSION_WAIT_MS) },
  });
  try {
    const conversations = await within(
      seedConversations(parley, {
        users: USERS,
        perUser: CONVERSATIONS_PER_USER,
        messages: 0,
        concurrency: 64,
      }),
      5 * 60_000,
      'freshness: starting conversations',
    );
    await parley.caughtUp(2 * 60_000);
    // The query API's Redis breaker never closes once open (see README): after a run whose reads
    // went degraded, the next run gets a fresh query API process.
    let queryApiPeakRss = 0;
    const measure = async (offered: number, runSeconds: number) => {
      const run = await writeThenRead(parley, conversations, offered, runSeconds);
      process.stderr.write(
        `freshness: offered ${offered}/s, achieved ${run.achievedPerSec}/s, freshness p50 ${run.freshnessMs.p50} ms, p99 ${run.freshnessMs.p99} ms, ${run.failures} failures ${JSON.stringify(run.failureReasons)}\n`,
      );
      const degraded = Object.keys(run.queryApiReads).some((k) => k.includes('degraded'));
      if (degraded) {
        process.stderr.write('freshness: query API reads went degraded; restarting it\n');
        queryApiPeakRss = Math.max(queryApiPeakRss, await parley.restartQueryApi());
      }
      await parley.caughtUp(2 * 60_000);
      return { ...run, queryApiRestartedAfter: degraded };
    };
    // Warm-up, not recorded: JIT, lazily loaded code and connections in every service, rising
    // gently (a burst on cold services opens the breaker; cold, the write path alone has a p99
    // of seconds at 250/s).
    for (const rate of WARM_UP_RATES) await measure(rate, 5);

    // Up through the rates to the first one the machine does not keep up with; if it keeps up
    // with none, down until it does.
    const runs = [];
    for (const offered of RATES_UP) {
      const run = await measure(offered, seconds);
      runs.push(run);
      if (!run.sustained) break;
    }
    if (!runs.some((r) => r.sustained)) {
      for (const offered of RATES_DOWN) {
        const run = await measure(offered, seconds);
        runs.push(run);
        if (run.sustained) break;
      }
    }
    // The highest rate kept up with; the last tried when none was.
    const headline = runs.findLast((r) => r.sustained) ?? (runs.at(-1) as (typeof runs)[number]);
    if (headline.commands === 0) {
      throw new Error(`freshness: no command was read back: ${JSON.stringify(headline)}`);
    }
    const rss = {
      commandApi: parley.commandApi.peakRssBytes(),
      commandProcessor: parley.processor.peakRssBytes(),
      projectors: parley.projectors.peakRssBytes(),
      queryApi: Math.max(queryApiPeakRss, parley.queryApi.peakRssBytes()),
    };

    const offered = headline.offeredPerSec;
    process.stderr.write(`freshness: baseline (Kafka produce -> consume) at ${offered}/s\n`);
    const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
    const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
    const baseline = await kafkaLatency(kafka, `${parley.prefix}baseline-latency`, {
      perSec: offered,
      seconds,
      partitions: PARTITIONS,
    });
    process.stderr.write(
      `freshness: Kafka p50 ${baseline.latencyMs.p50} ms, p99 ${baseline.latencyMs.p99} ms\n`,
    );

    return writeResult('freshness', {
      setup: {
        ratesUp: RATES_UP,
        ratesDown: RATES_DOWN,
        seconds,
        conversations: conversations.length,
        partitions: PARTITIONS,
        readMode:
          'X-Min-Version header: the query API answers once the views projection has published progress at or past the version (MIN_VERSION_WAIT_MS 10000); an answer older than the version (X-View-Stale) is asked again',
        measuredFrom: '201 from the command API (the version known) to the read that shows it',
        projections: 'views only (the read model this read waits on)',
        note: 'command API, processor, projectors, query API, Kafka, Redis, PostgreSQL, SecantusDB and the load generator share 2 cores; the rates are tried upwards until one is not sustained (95% of it achieved, no failures, p99 counted from each scheduled start under 1 s), or downwards when the first is not; the headline is the highest sustained rate (the last tried when none was), and the Kafka baseline runs at that rate. A run whose reads went degraded (Redis breaker open) is followed by a fresh query API process',
      },
      runs,
      freshness: headline,
      kafkaBaseline: baseline,
      freshnessP50Ms: headline.freshnessMs.p50,
      freshnessP99Ms: headline.freshnessMs.p99,
      kafkaP99Ms: baseline.latencyMs.p99,
      achievedCommandsPerSec: headline.achievedPerSec,
      ratioP99ToKafkaP99:
        baseline.latencyMs.p99 > 0
          ? Math.round((headline.freshnessMs.p99 / baseline.latencyMs.p99) * 100) / 100
          : null,
      targets: { freshnessP99Ms: '< 50', offeredPerSec: '~1000' },
      peakRssBytes: { ...rss, bench: peakRssBytes() },
    });
  } finally {
    await parley.stop();
  }
}
