/**
 * Where replayed records go: NDJSON (one record per line), CSV of chosen fields, or Parquet that
 * DuckDB and pandas read. Each writes as it goes (Parquet a row group every ROW_GROUP records),
 * so a replay of any length holds a bounded number of records in memory.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { fieldAt } from './filter.ts';
import type { Format } from './options.ts';
import type { ReplayedRecord } from './replayed-record.ts';

export interface Sink {
  write(record: ReplayedRecord): Promise<void>;
  close(): Promise<void>;
}

const ROW_GROUP = 5_000;

/** Longs as strings, byte arrays as base64 (a replacer: slow, used only when needed). */
function portable(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  const buffer = v as { type?: unknown; data?: unknown } | null;
  if (
    buffer &&
    typeof buffer === 'object' &&
    buffer.type === 'Buffer' &&
    Array.isArray(buffer.data)
  ) {
    return Buffer.from(buffer.data as number[]).toString('base64');
  }
  return v;
}

/**
 * Any record as plain JSON. Most hold neither longs beyond numbers nor bytes (bytes are personal
 * data, already null), and JSON.stringify with a replacer is several times slower, so the plain
 * one runs first: a BigInt makes it throw, a Buffer shows as `"type":"Buffer"` (never found
 * inside a JSON string, where quotes are escaped).
 */
export function jsonOf(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (!text.includes('"type":"Buffer"')) return text;
  } catch {
    // A BigInt: the replacer below turns it into text.
  }
  return JSON.stringify(value, portable);
}

/** A record's value as JSON: JSON.stringify alone where its schema says no bytes can be in it. */
export function valueJson(r: ReplayedRecord): string {
  if (!r.plainJson) return jsonOf(r.value);
  try {
    return JSON.stringify(r.value);
  } catch {
    return jsonOf(r.value);
  }
}

/** An NDJSON line: the record's fields in this order, the headers as the JSON text they came as. */
export function ndjsonLine(r: ReplayedRecord): string {
  return `{"topic":${JSON.stringify(r.topic)},"partition":${r.partition},"offset":${JSON.stringify(r.offset)},"timestamp":"${r.timestamp}","headers":${r.headersJson},"type":${JSON.stringify(r.type)},"value":${valueJson(r)}}\n`;
}

/** A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string' ? value : typeof value === 'object' ? jsonOf(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Lines go out in chunks of about 64 KB (one write per line costs more than decoding), or each
 * at once when `live` (a followed topic: a reader waits for every line). */
function textSink(
  out: Writable,
  line: (r: ReplayedRecord) => string,
  { first = '', live = false }: { first?: string; live?: boolean },
): Sink {
  let pending = first;
  // A file that cannot be written or a reader that went away (EPIPE): the next write throws it.
  let failed: Error | undefined;
  out.on('error', (error: Error) => {
    failed ??= error;
  });
  const flush = async () => {
    if (failed) throw failed;
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => {
        out.once('drain', resolve);
        out.once('error', () => resolve());
      });
    }
    if (failed) throw failed;
  };
  return {
    async write(record) {
      pending += line(record);
      if (live || pending.length >= 65_536) await flush();
    },
    async close() {
      await flush();
      if (out !== process.stdout) {
        await new Promise<void>((resolve, reject) =>
          out.end(() => (failed ? reject(failed) : resolve())),
        );
      }
    },
  };
}

type Cell = string | number | bigint | Date | null;
interface Column {
  name: string;
  type: 'STRING' | 'JSON' | 'INT32' | 'INT64' | 'TIMESTAMP';
  of: (r: ReplayedRecord) => Cell;
}

/** Parquet columns: the envelope and the value as JSON, or the fields asked for as text. */
function parquetColumns(fields: readonly string[] | undefined): Column[] {
  if (fields) {
    return fields.map((f) => ({
      name: f,
      type: 'STRING' as const,
      of: (r: ReplayedRecord) => {
        const v = fieldAt(r, f.split('.'));
        return v === undefined || v === null ? null : typeof v === 'string' ? v : jsonOf(v);
      },
    }));
  }
  return [
    { name: 'topic', type: 'STRING' as const, of: (r: ReplayedRecord) => r.topic },
    { name: 'partition', type: 'INT32' as const, of: (r: ReplayedRecord) => r.partition },
    { name: 'offset', type: 'INT64' as const, of: (r: ReplayedRecord) => BigInt(r.offset) },
    {
      name: 'timestamp',
      type: 'TIMESTAMP' as const,
      of: (r: ReplayedRecord) => new Date(r.timestamp),
    },
    { name: 'type', type: 'STRING' as const, of: (r: ReplayedRecord) => r.type },
    {
      name: 'aggregate_id',
      type: 'STRING' as const,
      of: (r: ReplayedRecord) => {
        const id = fieldAt(r, ['value', 'metadata', 'aggregateId']);
        return typeof id === 'string' ? id : null;
      },
    },
    { name: 'value', type: 'JSON' as const, of: valueJson },
  ];
}

function parquetSink(file: string, fields: readonly string[] | undefined): Sink {
  const columns = parquetColumns(fields);
  const schema = [
    { name: 'root', num_children: columns.length },
    ...columns.map((c) => ({
      name: c.name,
      repetition_type: 'OPTIONAL' as const,
      ...(c.type === 'STRING'
        ? { type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const }
        : c.type === 'JSON'
          ? // Text that is JSON: with the JSON converted type, hyparquet-writer would encode
            // the text as a JSON string a second time (DuckDB then found no field in it).
            {
              type: 'BYTE_ARRAY' as const,
              converted_type: 'UTF8' as const,
              logical_type: { type: 'JSON' as const },
            }
          : c.type === 'TIMESTAMP'
            ? { type: 'INT64' as const, converted_type: 'TIMESTAMP_MILLIS' as const }
            : { type: c.type }),
    })),
  ];
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema,
    // Statistics cost a pass over every value, and snappy (in JavaScript) a quarter of the time
    // of a replay; DuckDB and pandas read the file without either (ADR 0027).
    statistics: false,
    codec: 'UNCOMPRESSED',
    createdBy: 'parley replay',
  });
  // The cells, column by column, as records come: a decoded record is garbage at once, and only
  // what the file holds waits for its row group (holding the records cost a third of the time in
  // collecting them).
  let cells: Cell[][] = columns.map(() => []);
  let rows = 0;
  const flush = async () => {
    if (rows === 0) return;
    const data = cells;
    cells = columns.map(() => []);
    rows = 0;
    await writer.write({
      columnData: columns.map((c, i) => ({
        name: c.name,
        data: data[i] as Cell[],
        type: c.type,
        // A dictionary of JSON documents is never smaller than the documents: not even tried.
        ...(c.type === 'JSON' ? { encoding: 'PLAIN' as const } : {}),
      })),
      rowGroupSize: ROW_GROUP,
    });
  };
  return {
    async write(record) {
      for (let i = 0; i < columns.length; i++) cells[i]?.push((columns[i] as Column).of(record));
      if (++rows >= ROW_GROUP) await flush();
    },
    async close() {
      await flush();
      writer.finish();
    },
  };
}

export function openSink(
  format: Format,
  options: { out?: string; fields?: readonly string[]; follow?: boolean },
): Sink {
  const live = options.follow ?? false;
  if (format === 'parquet') {
    if (!options.out) throw new Error('parquet needs a file');
    return parquetSink(options.out, options.fields);
  }
  const out: Writable = options.out
    ? createWriteStream(options.out)
    : isMainThread
      ? process.stdout
      : // A worker's process.stdout goes through the main thread; file descriptor 1 does not.
        createWriteStream('/dev/stdout', { fd: 1, autoClose: false });
  if (format === 'csv') {
    const fields = options.fields ?? [];
    const paths = fields.map((f) => f.split('.'));
    return textSink(out, (r) => `${paths.map((p) => csvCell(fieldAt(r, p))).join(',')}\r\n`, {
      first: `${fields.map(csvCell).join(',')}\r\n`,
      live,
    });
  }
  return textSink(out, ndjsonLine, { live });
}
