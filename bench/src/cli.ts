/**
 * `npm run bench -- <name> [--events N] [--seconds S]`: brings the local stack up (idempotent), builds
 * the workspaces, runs the benchmark with its same-run baseline and writes bench/results/<name>.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { assistantBench } from './benchmarks/assistant.ts';
import { commandsBench } from './benchmarks/commands.ts';
import { freshnessBench } from './benchmarks/freshness.ts';
import { kafkaBaseline } from './benchmarks/kafka-baseline.ts';
import { kafkaClientsBench } from './benchmarks/kafka-clients.ts';
import { projectionsBench } from './benchmarks/projections.ts';
import { queriesBench } from './benchmarks/queries.ts';
import { replayBench } from './benchmarks/replay.ts';
import { benchContext } from './context.ts';

const BENCHMARKS: Record<string, (context: ReturnType<typeof benchContext>) => Promise<string>> = {
  'kafka-baseline': kafkaBaseline,
  'kafka-clients': kafkaClientsBench,
  commands: commandsBench,
  projections: projectionsBench,
  queries: queriesBench,
  freshness: freshnessBench,
  assistant: assistantBench,
  replay: replayBench,
};
const USAGE = `usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}> [--events N] [--seconds S]`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(64);
}

let parsed: ReturnType<
  typeof parseArgs<{
    options: { events: { type: 'string' }; seconds: { type: 'string' } };
    allowPositionals: true;
  }>
>;
try {
  parsed = parseArgs({
    options: { events: { type: 'string' }, seconds: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
} catch (error) {
  fail((error as Error).message);
}
const [name, ...rest] = parsed.positionals;
if (!name || rest.length > 0) fail('name exactly one benchmark');
const run = BENCHMARKS[name];
if (!run) fail(`unknown benchmark '${name}'`);
let events: number | undefined;
if (parsed.values.events !== undefined) {
  events = Number(parsed.values.events);
  if (!Number.isInteger(events) || events < 1000 || events > 10_000_000) {
    fail(`--events must be an integer from 1000 to 10000000, got '${parsed.values.events}'`);
  }
}
let seconds: number | undefined;
if (parsed.values.seconds !== undefined) {
  seconds = Number(parsed.values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
    fail(`--seconds must be an integer from 1 to 600, got '${parsed.values.seconds}'`);
  }
}

const repo = new URL('../../', import.meta.url).pathname;
execFileSync('bash', [`${repo}infra/local/stack.sh`, 'up'], { stdio: 'inherit' });
// Some benchmarks run the built CLIs (dist/), as production does: build what changed.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
const path = await run(benchContext(events, seconds));
process.stdout.write(readFileSync(path, 'utf8'));
process.stdout.write(`written to ${path}\n`);
