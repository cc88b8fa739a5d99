/**
 * `npm run replay -- <topic or context> [options]`, parsed and checked before anything connects:
 * a bad option is a usage error (exit 64) with a message that names it.
 */
import { parseArgs } from 'node:util';
import { FilterSyntaxError, parseFilter } from './filter.ts';

export const FORMATS = ['ndjson', 'csv', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

/** Where a replay starts or stops, per partition. */
export type Position =
  | { kind: 'edge' }
  | { kind: 'time'; at: number }
  | { kind: 'offsets'; offsets: ReadonlyMap<number, number> };

export interface ReplayOptions {
  /** A topic of the catalogue or a context's name (its events topic). */
  target: string;
  from: Position;
  to: Position;
  /** Stop after this many records written. */
  count?: number;
  /** Keep following new records after the end (until SIGINT or SIGTERM). */
  follow: boolean;
  /** Only these partitions (all when absent). */
  partitions?: readonly number[];
  /** Decode with the schema the record was written with, not the current one. */
  asWritten: boolean;
  types: readonly string[];
  aggregate?: string;
  user?: string;
  where?: string;
  format: Format;
  fields?: readonly string[];
  out?: string;
  onError: 'skip' | 'stop';
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `usage: npm run replay -- <topic or context> [options]
  --from beginning|<ISO time>|<p:o,...>   where to start (default: beginning)
  --to end|<ISO time>|<p:o,...>           where to stop, excluded (default: the end now)
  --count N                                stop after N records written
  --follow                                 keep following new records until Ctrl-C
  --partitions 0,3                         only these partitions
  --as-written                             decode with the writer's schema (default: current)
  --type T                                 only records of this type (repeatable)
  --aggregate ID                           only this aggregate (metadata.aggregateId)
  --user ID                                only records about or by this user
  --where EXPR                             e.g. 'value.role == "admin" and offset > 10'
  --format ndjson|csv|parquet              default ndjson
  --fields a,b,c                           columns for csv (required) and parquet
  --out FILE                               default stdout (parquet needs a file)
  --on-error skip|stop                     an unreadable record: reported, then skipped or stop`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OFFSETS = /^\d{1,5}:\d{1,19}(,\d{1,5}:\d{1,19})*$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const FIELD = /^[A-Za-z_][\w-]*(\.[\w-]+)*$/;

function position(flag: string, text: string | undefined, edge: string, now: number): Position {
  if (text === undefined || text === edge) return { kind: 'edge' };
  if (OFFSETS.test(text)) {
    const offsets = new Map<number, number>();
    for (const pair of text.split(',')) {
      const [p, o] = pair.split(':').map(Number) as [number, number];
      if (offsets.has(p)) throw new UsageError(`${flag}: partition ${p} given twice`);
      if (!Number.isSafeInteger(o)) throw new UsageError(`${flag}: offset ${o} is too large`);
      offsets.set(p, o);
    }
    return { kind: 'offsets', offsets };
  }
  if (ISO_TIME.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) throw new UsageError(`${flag}: '${text}' is not a valid time`);
    if (at > now) throw new UsageError(`${flag}: ${text} is in the future`);
    return { kind: 'time', at };
  }
  throw new UsageError(
    `${flag}: expected ${edge}, an ISO time (2026-11-30T12:00:00Z) or partition:offset pairs (0:10,1:5), got '${text}'`,
  );
}

function positiveInt(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${flag}: expected a whole number from 1 to ${max}, got '${text}'`);
  }
  return Number(text);
}

function checkOrder(from: Position, to: Position) {
  if (from.kind === 'time' && to.kind === 'time' && to.at <= from.at) {
    throw new UsageError('--to is not after --from');
  }
  if (from.kind === 'offsets' && to.kind === 'offsets') {
    for (const [p, end] of to.offsets) {
      const start = from.offsets.get(p);
      if (start !== undefined && end <= start) {
        throw new UsageError(`--to ${p}:${end} is not after --from ${p}:${start}`);
      }
    }
  }
}

type Values = ReturnType<typeof parse>['values'];

function outputOptions(v: Values) {
  const format = (v.format ?? 'ndjson') as Format;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: expected ${FORMATS.join(', ')}, got '${v.format}'`);
  }
  const fields = v.fields?.split(',').map((f) => f.trim());
  for (const field of fields ?? []) {
    if (!FIELD.test(field)) throw new UsageError(`--fields: '${field}' is not a field path`);
  }
  if (format === 'csv' && !fields) throw new UsageError('--format csv needs --fields');
  if (format === 'parquet' && !v.out) throw new UsageError('--format parquet needs --out FILE');
  return { format, ...(fields ? { fields } : {}), ...(v.out ? { out: v.out } : {}) };
}

/** A `--where` that does not parse is a usage error, found before anything connects. */
function checkWhere(where: string) {
  try {
    parseFilter(where);
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new UsageError(error.message);
    throw error;
  }
}

function filterOptions(v: Values) {
  for (const [flag, id] of [
    ['--aggregate', v.aggregate],
    ['--user', v.user],
  ] as const) {
    if (id !== undefined && !UUID.test(id)) {
      throw new UsageError(`${flag}: expected a UUID, got '${id}'`);
    }
  }
  for (const t of v.type ?? []) {
    if (!/^[A-Z][A-Za-z0-9]*$/.test(t)) throw new UsageError(`--type: '${t}' is not a record type`);
  }
  if (v.where !== undefined) checkWhere(v.where);
  const onError = v['on-error'] ?? 'skip';
  if (onError !== 'skip' && onError !== 'stop') {
    throw new UsageError(`--on-error: expected skip or stop, got '${onError}'`);
  }
  return {
    types: v.type ?? [],
    ...(v.aggregate ? { aggregate: v.aggregate.toLowerCase() } : {}),
    ...(v.user ? { user: v.user.toLowerCase() } : {}),
    ...(v.where !== undefined ? { where: v.where } : {}),
    onError: onError as 'skip' | 'stop',
  };
}

function rangeOptions(v: Values, now: number) {
  const from = position('--from', v.from, 'beginning', now);
  const to = position('--to', v.to, 'end', now);
  checkOrder(from, to);
  if (v.follow && v.to !== undefined) throw new UsageError('--follow and --to do not go together');
  const partitions = v.partitions?.split(',').map((p) => {
    if (!/^\d{1,5}$/.test(p)) throw new UsageError(`--partitions: '${p}' is not a partition`);
    return Number(p);
  });
  return {
    from,
    to,
    ...(v.count !== undefined ? { count: positiveInt('--count', v.count, 1e12) } : {}),
    follow: v.follow ?? false,
    ...(partitions ? { partitions } : {}),
  };
}

export function parseReplayArgs(argv: readonly string[], now = Date.now()): ReplayOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1 || !positionals[0]) {
    throw new UsageError('give one topic or context (e.g. chat, identity.user-events)');
  }
  return {
    target: positionals[0],
    ...rangeOptions(v, now),
    asWritten: v['as-written'] ?? false,
    ...filterOptions(v),
    ...outputOptions(v),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      count: { type: 'string' },
      follow: { type: 'boolean' },
      partitions: { type: 'string' },
      'as-written': { type: 'boolean' },
      type: { type: 'string', multiple: true },
      aggregate: { type: 'string' },
      user: { type: 'string' },
      where: { type: 'string' },
      format: { type: 'string' },
      fields: { type: 'string' },
      out: { type: 'string' },
      'on-error': { type: 'string' },
    },
  });
}
