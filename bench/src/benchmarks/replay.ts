/**
 * replay: the projections benchmark's realistic mix (default 1,000,000 events, content encrypted
 * as the API writes it) written once; then the chat topic replayed by the built replay CLI
 * (`replay/dist/cli.js`, its own process) to NDJSON and to Parquet files, beside a same-run
 * baseline: the projections benchmark's bare kafkajs consumer reading and Avro-decoding the same
 * topic. Rates count from the first record; the CLI reports its peak resident memory.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, createTopics } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { migrate } from '@parley/platform/migrate';
import { DataKeyStore, PersonalDataCipher } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { CONTEXTS, prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import {
  IDENTITY_MIGRATIONS,
  IDENTITY_SCHEMA,
} from '../../../command-api/src/identity/store-schema.ts';
import { REPLAY_NODE_FLAGS } from '../../../replay/src/node-flags.ts';
import type { BenchContext } from '../context.ts';
import { writeResult } from '../measure.ts';
import { consumeAndDecode, writeMix } from './projections.ts';

const PARTITIONS = 6;
const ROUNDS = 3;
const repo = new URL('../../../', import.meta.url).pathname;

interface ReplayRun {
  records: number;
  written: number;
  recordsPerSec: number;
  seconds: number;
  peakRssBytes: number;
  fileBytes: number;
}

/** The built CLI, as an analyst runs it; its summary line (stderr) says what it did. */
function replayWithCli(format: 'ndjson' | 'parquet', file: string, prefix: string) {
  return new Promise<ReplayRun>((resolve, reject) => {
    execFile(
      process.execPath,
      [
        ...REPLAY_NODE_FLAGS,
        ...(process.env.PARLEY_BENCH_PROFILE
          ? ['--cpu-prof', `--cpu-prof-dir=${repo}.data/profiles`]
          : []),
        `${repo}replay/dist/cli.js`,
        'chat',
        '--format',
        format,
        '--out',
        file,
      ],
      { env: { ...process.env, TOPIC_PREFIX: prefix }, maxBuffer: 64 * 2 ** 20 },
      (error, _stdout, stderr) => {
        const line = stderr
          .trim()
          .split('\n')
          .reverse()
          .find((l) => l.startsWith('{"summary"'));
        if (error || !line) {
          return reject(
            new Error(
              `replay to ${format} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
        }
        const { summary } = JSON.parse(line) as {
          summary: { read: number; written: number; seconds: number; peakRssBytes: number };
        };
        resolve({
          records: summary.read,
          written: summary.written,
          recordsPerSec: Math.round(summary.read / Math.max(0.001, summary.seconds)),
          seconds: summary.seconds,
          peakRssBytes: summary.peakRssBytes,
          fileBytes: statSync(file).size,
        });
      },
    );
  });
}

export async function replayBench(context: BenchContext) {
  const total = context.events ?? 1_000_000;
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `benchr${Date.now().toString(36)}.`;
  const names = prefixedTopicNames(prefix);
  const identity = CONTEXTS.find((c) => c.name === 'identity');
  const chat = CONTEXTS.find((c) => c.name === 'chat');
  if (!identity || !chat) throw new Error('the topic catalogue lacks the identity or chat context');
  const topics = { users: names.events(identity), chat: names.events(chat) };
  const options = schemaRegistryOptions(context.config);
  const schemas = loadSchemaSet();
  const serde = new AvroSerde(createSchemaRegistry(options), schemas);
  const postgres = connectPostgres(context.config as never, 'bench');
  const cipher = new PersonalDataCipher(new DataKeyStore(postgres.pool, Buffer.alloc(32, 7)));
  const dir = mkdtempSync(join(tmpdir(), 'parley-replay-bench-'));
  try {
    await registerSchemas(createSchemaRegistry(options), options, schemas);
    await migrate(postgres.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
    await createTopics(
      admin,
      Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
    );
    await writeMix(kafka, serde, cipher, topics, total);
    const records = (await admin.fetchTopicOffsets(topics.chat)).reduce(
      (n, o) => n + Number(o.high),
      0,
    );
    process.stderr.write(`replay: ${records} chat events written\n`);
    execFileSync('npm', ['run', '--silent', 'build'], {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // Rounds of the three, one after the other, and the median of each: this machine's speed
    // drifts by a fifth within minutes, and a drift between two single runs would be the ratio.
    const rounds: Array<{
      baseline: { events: number; eventsPerSec: number };
      ndjson: ReplayRun;
      parquet: ReplayRun;
    }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const baseline = await consumeAndDecode(kafka, serde, [topics.chat], records);
      const ndjson = await replayWithCli('ndjson', join(dir, 'chat.ndjson'), prefix);
      const parquet = await replayWithCli('parquet', join(dir, 'chat.parquet'), prefix);
      rounds.push({ baseline, ndjson, parquet });
      process.stderr.write(
        `replay: round ${round}: baseline ${baseline.eventsPerSec}/s, ndjson ${ndjson.recordsPerSec}/s, parquet ${parquet.recordsPerSec}/s\n`,
      );
    }
    const median = <T>(runs: T[], rate: (run: T) => number): T => {
      const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
      return sorted[Math.floor(sorted.length / 2)] as T;
    };
    const baseline = median(
      rounds.map((r) => r.baseline),
      (b) => b.eventsPerSec,
    );
    const peak = (runs: ReplayRun[]) => Math.max(...runs.map((r) => r.peakRssBytes));
    const ndjson = {
      ...median(
        rounds.map((r) => r.ndjson),
        (r) => r.recordsPerSec,
      ),
      peakRssBytes: peak(rounds.map((r) => r.ndjson)),
    };
    const parquet = {
      ...median(
        rounds.map((r) => r.parquet),
        (r) => r.recordsPerSec,
      ),
      peakRssBytes: peak(rounds.map((r) => r.parquet)),
    };
    // Each round's subject over the same round's baseline, and the median of those.
    const ratio = (subject: (r: (typeof rounds)[number]) => ReplayRun) => {
      const ratios = rounds.map((r) => subject(r).recordsPerSec / r.baseline.eventsPerSec);
      return Math.round((median(ratios, (x) => x) as number) * 1000) / 1000;
    };
    const result = {
      events: total,
      rounds: rounds.map((r) => ({
        baselinePerSec: r.baseline.eventsPerSec,
        ndjsonPerSec: r.ndjson.recordsPerSec,
        parquetPerSec: r.parquet.recordsPerSec,
      })),
      replayedTopic: 'chat.conversation-events',
      baseline,
      ndjson,
      parquet,
      ratioNdjsonToBaseline: ratio((r) => r.ndjson),
      ratioParquetToBaseline: ratio((r) => r.parquet),
      targets: {
        ratioNdjsonToBaseline: '>= 0.6',
        ratioParquetToBaseline: '>= 0.4',
        peakRss: '< 300 MB',
      },
    };
    return writeResult('replay', result);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin.disconnect();
    await postgres.pool.end().catch(() => {});
  }
}
