/**
 * `npm run replay -- <topic or context> [options]` (options in options.ts): replays a topic to
 * NDJSON, CSV or Parquet without personal data. Progress goes to stderr (a bar on a terminal,
 * JSON lines otherwise), then a summary. Exit codes: 0 done, 64 bad usage, 65 an unreadable
 * record with `--on-error stop`, 78 bad configuration, 1 anything else (the brokers or the
 * registry out of reach).
 */
import { ConfigError, loadConfig } from '@parley/platform/config';
import { connectKafka } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { connectSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import { settings } from './config.ts';
import { parseReplayArgs, type ReplayOptions, USAGE, UsageError } from './options.ts';
import { type ReplayProgress, replay, UnreadableRecordError } from './replay.ts';

function exit(message: string, code: number): never {
  process.stderr.write(`replay: ${message}\n`);
  process.exit(code);
}

function showProgress(p: ReplayProgress) {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${JSON.stringify({ progress: p })}\n`);
    return;
  }
  const share = p.total ? Math.min(1, p.read / p.total) : undefined;
  const bar =
    share === undefined
      ? ''
      : `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '.')}] ${Math.round(share * 100)}% `;
  process.stderr.write(
    `\r${bar}${p.read} read, ${p.written} written, ${p.recordsPerSecond}/s, ETA ${p.etaSeconds ?? '?'}s   `,
  );
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
let options: ReplayOptions;
try {
  options = parseReplayArgs(args);
} catch (error) {
  if (error instanceof UsageError) exit(`${error.message}\n${USAGE}`, 64);
  throw error;
}
let config: ReturnType<typeof loadConfig<typeof settings>>;
try {
  config = loadConfig(settings);
} catch (error) {
  if (error instanceof ConfigError) exit(error.message, 78);
  throw error;
}
const log = createLogger({
  service: 'replay',
  level: 'warn',
  environment: config.environment,
});
const kafka = connectKafka(config, 'replay', log);
const registry = connectSchemaRegistry(config);
const schemas = loadSchemaSet();
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());

let code = 0;
try {
  await kafka.admin.connect();
  const summary = await replay(
    options,
    {
      kafka: kafka.kafka,
      admin: kafka.admin,
      serde: new AvroSerde(registry.registry, schemas),
      schemas,
      names: prefixedTopicNames(config.TOPIC_PREFIX),
    },
    // The output the options name, written by a worker thread beside the consumer.
    { worker: schemaRegistryOptions(config) },
    {
      onProgress: showProgress,
      onUnreadable: (position, error) =>
        process.stderr.write(
          `${process.stderr.isTTY ? '\n' : ''}replay: unreadable record at ${position}: ${error.message}\n`,
        ),
      signal: stop.signal,
    },
  );
  // With the process's peak resident memory: a replay streams, whatever the topic's size.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stderr.write(
    `${process.stderr.isTTY ? '\n' : ''}${JSON.stringify({ summary: { ...summary, peakRssBytes } })}\n`,
  );
  // A bounded replay stopped by Ctrl-C wrote only part of what was asked: not a success.
  if (summary.interrupted && !options.follow) code = 130;
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`replay: ${error.message}\n`);
    code = 64;
  } else if (error instanceof UnreadableRecordError) {
    process.stderr.write(`replay: ${error.message}\n`);
    code = 65;
  } else if ((error as { code?: unknown }).code === 'EPIPE') {
    // The reader went away (`| head`): nothing more to write, not a failure.
    code = 0;
  } else {
    process.stderr.write(`replay: ${(error as Error).message}\n`);
    code = 1;
  }
} finally {
  await kafka.resource.close().catch(() => {});
}
process.exit(code);
