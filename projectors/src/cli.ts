/**
 * `npm run projector -- <command>`:
 *   rebuild <projection>          replay from offset zero into a new generation, switch, drop the old
 *   dlq list <projection>         the dead letters: where from, why
 *   dlq show <projection> <p:o>   one dead letter's headers and value
 *   dlq redrive <projection>      apply the dead letters again (after a fix); keeps what still fails
 * Progress is a bar in a terminal and JSON lines otherwise.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '@parley/platform/config';
import { createProducer } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import { storeSettings } from './config.ts';
import { readDeadLetters, redriveDeadLetters } from './dead-letter-tool.ts';
import { connectStores, projectorContext } from './dependencies.ts';
import { PROJECTION_NAMES, projectionNamed } from './read-models/index.ts';
import { type RebuildProgress, RebuildRunningError, rebuild } from './rebuild.ts';
import { currentGeneration } from './runtime/generations.ts';
import { projectionMetrics } from './runtime/metrics.ts';
import { groupOf, redriveGroupOf } from './runtime/projection.ts';

const USAGE = `usage: npm run projector -- rebuild <projection>
       npm run projector -- dlq list|redrive <projection>
       npm run projector -- dlq show <projection> <partition:offset>
projections: ${PROJECTION_NAMES.join(', ')}`;

function fail(message: string, code = 64): never {
  process.stderr.write(`projector: ${message}\n${USAGE}\n`);
  process.exit(code);
}

let positionals: string[];
try {
  ({ positionals } = parseArgs({ allowPositionals: true, strict: true, options: {} }));
} catch (error) {
  fail((error as Error).message);
}
const [command, ...rest] = positionals;
const sub = command === 'dlq' ? rest.shift() : undefined;
const projection = projectionNamed(rest[0] ?? '');
if (command === 'rebuild' && rest.length === 1 && projection) {
  // ok
} else if (
  command === 'dlq' &&
  (sub === 'list' || sub === 'redrive') &&
  rest.length === 1 &&
  projection
) {
  // ok
} else if (
  command === 'dlq' &&
  sub === 'show' &&
  rest.length === 2 &&
  projection &&
  /^\d+:\d+$/.test(rest[1] ?? '')
) {
  // ok
} else {
  fail(projection || !rest[0] ? 'unknown command' : `unknown projection '${rest[0]}'`);
}
if (!projection) fail('no projection');

let config: ReturnType<typeof loadConfig<typeof storeSettings>>;
try {
  config = loadConfig(storeSettings);
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 78);
  throw error;
}
const log = createLogger({
  service: 'projector-cli',
  level: 'warn',
  environment: config.environment,
});
const connected = connectStores(config, log, 'projector-cli');
const names = prefixedTopicNames(config.TOPIC_PREFIX);
const dlqTopic = names.deadLetters(groupOf(projection));
const namespace = namespaceOf(config.TOPIC_PREFIX);

function bar(p: RebuildProgress) {
  if (!process.stderr.isTTY) {
    // JSON lines also carry the process's peak resident memory so far.
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(`${JSON.stringify({ ...p, peakRssBytes })}\n`);
    return;
  }
  const total = p.applied + p.lag;
  const share = total > 0 ? p.applied / total : 1;
  const width = 30;
  const filled = Math.round(share * width);
  process.stderr.write(
    `\r${p.projection} g${p.generation} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(share * 100)}% ${p.applied} events, ${p.eventsPerSecond}/s, ETA ${p.etaSeconds ?? '?'}s ${p.phase}   `,
  );
  if (p.phase === 'done') process.stderr.write('\n');
}

try {
  if (command === 'rebuild') {
    const producer = createProducer(connected.kafka.kafka, { idempotent: true });
    try {
      await producer.connect();
      const result = await rebuild({
        ...projectorContext(connected, {
          producer,
          names,
          log,
          metrics: projectionMetrics(createMetricsRegistry('projector-cli')),
        }),
        projection,
        namespace,
        switchGraceMs: config.PROJECTOR_GENERATION_POLL_MS * 2 + 1000,
        report: bar,
      });
      process.stdout.write(
        `${JSON.stringify({ rebuilt: projection.name, ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
      );
    } catch (error) {
      if (!(error instanceof RebuildRunningError)) throw error;
      process.stderr.write(`projector: ${error.message}; try again once it has finished\n`);
      process.exitCode = 75;
    } finally {
      await producer.disconnect();
    }
  } else if (sub === 'list' || sub === 'show') {
    const { entries, close } = await readDeadLetters(connected.kafka.kafka, dlqTopic);
    await close();
    const shown = sub === 'show' ? entries.filter((e) => e.offset === rest[1]) : entries;
    if (sub === 'show' && shown.length === 0) fail(`no dead letter at ${rest[1]}`, 1);
    for (const { message, ...entry } of shown) {
      const detail =
        sub === 'show'
          ? {
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
              ),
              valueHex: message.value?.toString('hex') ?? null,
            }
          : {};
      process.stdout.write(`${JSON.stringify({ ...entry, ...detail })}\n`);
    }
    if (sub === 'list') process.stderr.write(`${entries.length} dead letters in ${dlqTopic}\n`);
  } else {
    // Redrive: apply each dead letter to the live generation; commit past them only if all apply.
    const key = pointerKey(namespace, projection.name);
    const number = (await currentGeneration(connected.stores.pool, key)) ?? 1;
    const { redriven, failed } = await redriveDeadLetters({
      kafka: connected.kafka.kafka,
      serde: connected.serde,
      stores: connected.stores,
      projection,
      generation: { projection: key, number, namespace },
      topic: dlqTopic,
      groupId: redriveGroupOf(projection),
    });
    for (const offset of redriven)
      process.stdout.write(`${JSON.stringify({ redriven: offset })}\n`);
    for (const f of failed) {
      process.stdout.write(`${JSON.stringify({ failed: f.offset, reason: f.reason })}\n`);
    }
    process.stderr.write(
      `${redriven.length} redriven, ${failed.length} still failing${failed.length ? ' (kept)' : ''}\n`,
    );
    process.exitCode = failed.length ? 1 : 0;
  }
} finally {
  for (const resource of connected.resources) await resource.close().catch(() => {});
}
