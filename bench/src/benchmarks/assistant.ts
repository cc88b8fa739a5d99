/**
 * assistant: replies per second through the whole product, and the delay a client sees before the
 * first token, at increasing numbers of conversations streaming at once. Every part runs as its
 * own process on topics of this run (command API and processor, the views projection, the query
 * API, the assistant reactor); the model is the offline one at a fixed pace (TOKENS_PER_SECOND,
 * FIRST_TOKEN_MS). Each conversation's client keeps its event stream open and, in a loop, posts
 * a message (201), waits for the reply's first `reply-delta` and then its `reply-finished`.
 *
 * Baselines, same run: the bare `ai` SDK streaming the same offline model in this one process
 * (`streamText`, nothing around it) at the same numbers of concurrent replies, each level's right
 * before Parley's; and raw Kafka produce -> consume latency (the first-token target is read
 * against its p99).
 */
import { randomUUID } from 'node:crypto';
import { createKafka } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { streamText } from 'ai';
import { offlineModel } from '../../../assistant/src/model/offline-model.ts';
import type { BenchContext } from '../context.ts';
import { kafkaLatency } from '../kafka-latency.ts';
import { sleep, within } from '../load.ts';
import { coresBusy, percentiles, writeResult } from '../measure.ts';
import { apiClient, type Parley, type Person, startParley } from '../parley.ts';
import { openSse } from '../sse-client.ts';

const LEVELS = [1, 8, 32, 64, 128];
const SECONDS = 20;
const TOKENS_PER_SECOND = 50;
const FIRST_TOKEN_MS = 200;
const PARTITIONS = 6;
const QUESTION = 'What should we see on a first visit to Lisbon, and in which order?';

const round = (n: number) => Math.round(n * 100) / 100;

/** The bare SDK: `concurrent` loops streaming replies of the offline model for `seconds`. */
async function bareSdk(concurrent: number, seconds: number) {
  const model = offlineModel({ tokensPerSecond: TOKENS_PER_SECOND, firstTokenMs: FIRST_TOKEN_MS });
  const firstTokenMs: number[] = [];
  let replies = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const result = streamText({
          model,
          messages: [{ role: 'user', content: QUESTION }],
          maxRetries: 0,
        });
        let first = true;
        for await (const _ of result.textStream) {
          if (first) firstTokenMs.push(performance.now() - started);
          first = false;
        }
        replies += 1;
      }
    }),
  );
  return {
    concurrent,
    repliesPerSec: round(replies / seconds),
    firstTokenMs: percentiles(firstTokenMs),
  };
}

/** One level through Parley: `conversations` clients, each posting and waiting for its reply. */
async function throughParley(parley: Parley, conversations: number, seconds: number) {
  const commands = apiClient(parley.commandApi.url, Math.max(8, conversations));
  const overheadMs: number[] = [];
  /** Where a reply's time goes, as the client sees it (ms). */
  const phases = { accept: [] as number[], toStarted: [] as number[], toEnd: [] as number[] };
  const failures: Record<string, number> = {};
  let replies = 0;
  const start = async (owner: Person) => {
    const { aggregateId } = await commands.command('/v1/conversations', owner.token, {
      title: 'bench',
    });
    return aggregateId;
  };
  const people = Array.from({ length: conversations }, () => parley.person());
  const ids = await Promise.all(people.map(start));
  // Each client's event stream, open before its first message (the view must exist first).
  const streams = await Promise.all(
    ids.map(async (id, i) => {
      const owner = people[i] as Person;
      for (let attempt = 0; ; attempt++) {
        const stream = await openSse(
          `${parley.queryApi.url}/v1/conversations/${id}/events`,
          owner.token,
        );
        if (stream.status === 200) return stream;
        stream.close();
        if (attempt > 100) throw new Error(`event stream: ${stream.status}`);
        await sleep(100);
      }
    }),
  );
  const cores = coresBusy({
    commandApi: parley.commandApi,
    commandProcessor: parley.processor,
    projectors: parley.projectors,
    queryApi: parley.queryApi,
    assistant: parley.assistant as NonNullable<Parley['assistant']>,
  });
  const end = performance.now() + seconds * 1000;
  try {
    await Promise.all(
      ids.map(async (id, i) => {
        const owner = people[i] as Person;
        const stream = streams[i] as Awaited<ReturnType<typeof openSse>>;
        while (performance.now() < end) {
          const messageId = randomUUID();
          try {
            const posted = performance.now();
            await commands.command(`/v1/conversations/${id}/messages`, owner.token, {
              text: QUESTION,
              messageId,
            });
            const accepted = performance.now();
            phases.accept.push(accepted - posted);
            const started = await within(
              stream.next((e) => e.event === 'reply-started' && e.data.replyTo === messageId),
              60_000,
              'reply-started',
            );
            const replyId = started.data.replyId;
            phases.toStarted.push(performance.now() - accepted);
            await within(
              stream.next((e) => e.event === 'reply-delta' && e.data.replyId === replyId),
              60_000,
              'first delta',
            );
            const firstDelta = performance.now();
            overheadMs.push(firstDelta - accepted - FIRST_TOKEN_MS);
            const ended = await within(
              stream.next(
                (e) =>
                  ['reply-finished', 'reply-failed', 'reply-stopped'].includes(e.event) &&
                  e.data.replyId === replyId,
              ),
              120_000,
              'reply end',
            );
            phases.toEnd.push(performance.now() - firstDelta);
            if (ended.event !== 'reply-finished')
              throw new Error(`${ended.event}: ${ended.data.reason}`);
            if (performance.now() <= end) replies += 1;
          } catch (error) {
            const reason = String(error instanceof Error ? error.message : error).slice(0, 120);
            failures[reason] = (failures[reason] ?? 0) + 1;
            await sleep(200);
          }
        }
      }),
    );
  } finally {
    for (const s of streams) s.close();
    await commands.close();
  }
  return {
    conversations,
    repliesPerSec: round(replies / seconds),
    firstTokenOverheadMs: percentiles(overheadMs),
    phasesMs: {
      postTo201: percentiles(phases.accept),
      toReplyStarted: percentiles(phases.toStarted),
      firstDeltaToEnd: percentiles(phases.toEnd),
    },
    failures,
    coresBusy: cores.read(),
  };
}

export async function assistantBench(context: BenchContext) {
  const seconds = context.seconds ?? SECONDS;
  const baseline = [];
  const parley = await startParley(context, {
    label: 'a',
    partitions: PARTITIONS,
    projections: ['views'],
    assistantEnv: {
      ASSISTANT_OFFLINE_TOKENS_PER_SECOND: String(TOKENS_PER_SECOND),
      ASSISTANT_OFFLINE_FIRST_TOKEN_MS: String(FIRST_TOKEN_MS),
      ASSISTANT_CONCURRENCY: String(Math.max(...LEVELS) * 2),
    },
  });
  try {
    const levels = [];
    // Each level's baseline right before it (Parley's processes idle meanwhile): this machine
    // drifts by a fifth within minutes, so a ratio compares like with like.
    for (const level of LEVELS) {
      const bare = await bareSdk(level, seconds);
      baseline.push(bare);
      process.stderr.write(`assistant: bare SDK at ${level}: ${bare.repliesPerSec} replies/s\n`);
      const result = await throughParley(parley, level, seconds);
      levels.push(result);
      process.stderr.write(
        `assistant: Parley at ${level}: ${result.repliesPerSec} replies/s, first token +${result.firstTokenOverheadMs.p50}/${result.firstTokenOverheadMs.p99} ms (p50/p99), phases p50 ${JSON.stringify(Object.fromEntries(Object.entries(result.phasesMs).map(([k, v]) => [k, v.p50])))}\n`,
      );
    }
    const peak = levels.reduce((a, b) => (b.repliesPerSec > a.repliesPerSec ? b : a));
    const basePeak = baseline.reduce((a, b) => (b.repliesPerSec > a.repliesPerSec ? b : a));
    const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
    const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
    const rate = Math.max(10, Math.round(peak.repliesPerSec));
    process.stderr.write(`assistant: Kafka produce -> consume at ${rate}/s\n`);
    const kafkaBaseline = await kafkaLatency(kafka, `${parley.prefix}baseline-latency`, {
      perSec: rate,
      seconds,
      partitions: PARTITIONS,
    });
    const peakRss = parley.assistant?.peakRssBytes() ?? 0;
    return writeResult('assistant', {
      setup: {
        levels: LEVELS,
        secondsPerLevel: seconds,
        model: `offline at ${TOKENS_PER_SECOND} tokens/s, first token after ${FIRST_TOKEN_MS} ms`,
        partitions: PARTITIONS,
        note: 'each conversation posts a message, waits for its reply to finish on the event stream, and posts the next; first-token overhead = (first reply-delta seen by the client - 201 of the message) - the model’s own first-token delay',
      },
      baseline: { bareSdk: baseline, kafkaProduceToConsume: kafkaBaseline },
      parley: levels,
      peakRssBytes: { assistant: peakRss },
      ratioRepliesPerSecToBaseline: round(peak.repliesPerSec / basePeak.repliesPerSec),
      ratioFirstTokenP99ToKafkaP99: round(
        peak.firstTokenOverheadMs.p99 / Math.max(1, kafkaBaseline.latencyMs.p99),
      ),
      targets: {
        // Parley's peak over the bare SDK's peak.
        ratioRepliesPerSecToBaseline: '>= 0.5',
        // The first-token overhead p99 at Parley's peak, over Kafka's own p99.
        ratioFirstTokenP99ToKafkaP99: '<= 2',
        assistantPeakRss: '< 300 MB',
      },
    });
  } finally {
    await parley.stop();
  }
}
