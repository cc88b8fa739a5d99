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
  /** A promise when the caller has to wait (the output is full), nothing otherwise. */
  write(record: ReplayedRecord): Promise<void> | undefined;
  /** Records formatted elsewhere (by the other thread of a replay), written in their place. */
  writeFormatted?(formatted: Formatted): Promise<void> | undefined;
  close(): Promise<void>;
}

/**
 * Records formatted by the other thread of a replay: a text format's bytes, or Parquet rows with
 * each column's cells packed so that the thread writing them unpacks them cheaply.
 */
export type Formatted =
  | { kind: 'text'; chunks: Uint8Array[] }
  | { kind: 'rows'; count: number; columns: PackedColumn[] };

/** What a worker thread may take over instead of copying (ArrayBuffers of their own only). */
export function transferablesOf(formatted: Formatted): ArrayBuffer[] {
  if (formatted.kind === 'text') return [];
  return formatted.columns.flatMap((c) =>
    c.kind === 'bytes'
      ? [c.bytes.buffer as ArrayBuffer, c.ends.buffer as ArrayBuffer]
      : c.kind === 'cells'
        ? []
        : [c.values.buffer as ArrayBuffer],
  );
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

/** A record's value as JSON: by the writer generated from its schema, when it has one. */
export function valueJson(r: ReplayedRecord): string {
  return r.json ? r.json(r.value) : jsonOf(r.value);
}

/** Writes a record's text out piece by piece (joining the pieces first costs a copy of each line). */
type Emit = (r: ReplayedRecord, put: (text: string) => void) => void;

/**
 * NDJSON lines: the record's fields in this order, the headers as the JSON text they came as. The
 * topic's and the types' JSON are made once: a replay writes a few of each millions of times.
 */
export function ndjsonLines(): Emit {
  const quoted = new Map<string, string>();
  const q = (text: string) => {
    let json = quoted.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      quoted.set(text, json);
    }
    return json;
  };
  return (r, put) => {
    put(
      `{"topic":${q(r.topic)},"partition":${r.partition},"offset":"${r.offset}","timestamp":"${r.timestamp}","headers":`,
    );
    put(r.headersJson);
    put(`,"type":${q(r.type)},"value":`);
    put(valueJson(r));
    put('}\n');
  };
}

/** A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string' ? value : typeof value === 'object' ? jsonOf(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Bytes written out at a time: one write per line costs more than decoding it. */
const CHUNK = 256 * 1024;

/** Text encoded into chunks as it comes (building a string of lines and encoding it after cost a tenth of a replay). */
class TextChunks {
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  /** Full chunks, in order. */
  readonly ready: Uint8Array[] = [];

  readonly put = (text: string) => {
    // UTF-16 to UTF-8: at most three bytes per code unit.
    if (this.used + text.length * 3 > CHUNK) this.seal();
    if (text.length * 3 > CHUNK) this.ready.push(Buffer.from(text));
    else this.used += this.chunk.write(text, this.used);
  };

  seal() {
    if (this.used > 0) this.ready.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
  }

  /** Everything put so far. */
  take(): Uint8Array[] {
    this.seal();
    return this.ready.splice(0);
  }
}

/** How a text format writes records, and its first line; undefined for Parquet. */
function textFormat(
  format: Format,
  fields: readonly string[] | undefined,
): { emit: Emit; first: string } | undefined {
  if (format === 'parquet') return undefined;
  if (format === 'ndjson') return { emit: ndjsonLines(), first: '' };
  const paths = (fields ?? []).map((f) => f.split('.'));
  return {
    emit: (r, put) => put(`${paths.map((p) => csvCell(fieldAt(r, p))).join(',')}\r\n`),
    first: `${(fields ?? []).map(csvCell).join(',')}\r\n`,
  };
}

/**
 * Records formatted and kept in memory, taken a slice at a time: what a replay's consumer thread
 * formats itself while its worker is behind (pipeline.ts). Text as its bytes; Parquet as its rows'
 * cells (the worker only encodes them into the file).
 */
export function formattingSink(
  format: Format,
  fields: readonly string[] | undefined,
): Sink & { take(): Formatted } {
  const text = textFormat(format, fields);
  if (!text) return parquetRows(fields);
  const chunks = new TextChunks();
  return {
    write(record) {
      text.emit(record, chunks.put);
      return undefined;
    },
    take: () => ({ kind: 'text', chunks: chunks.take() }),
    close: async () => {},
  };
}

/**
 * Lines go out in chunks, or each line at once when `live` (a followed topic: a reader waits for
 * every line).
 */
function textSink(
  out: Writable,
  { emit, first }: { emit: Emit; first: string },
  live: boolean,
): Sink {
  const chunks = new TextChunks();
  // A file that cannot be written or a reader that went away (EPIPE): the next write throws it.
  let failed: Error | undefined;
  out.on('error', (error: Error) => {
    failed ??= error;
  });
  const send = async () => {
    for (const bytes of chunks.ready.splice(0)) {
      if (failed) break;
      if (!out.write(bytes)) {
        await new Promise<void>((resolve) => {
          out.once('drain', resolve);
          out.once('error', () => resolve());
        });
      }
    }
    if (failed) throw failed;
  };
  chunks.put(first);
  return {
    write(record) {
      if (failed) return Promise.reject(failed);
      emit(record, chunks.put);
      if (live) chunks.seal();
      return chunks.ready.length > 0 ? send() : undefined;
    },
    writeFormatted(formatted) {
      if (formatted.kind !== 'text') throw new Error('Parquet rows given to a text output');
      chunks.seal();
      chunks.ready.push(...formatted.chunks);
      return send();
    },
    async close() {
      chunks.seal();
      await send();
      if (out !== process.stdout) {
        await new Promise<void>((resolve, reject) =>
          out.end(() => (failed ? reject(failed) : resolve())),
        );
      }
    },
  };
}

type Cell = string | number | bigint | Date | Uint8Array | null;
interface Column {
  name: string;
  type: 'STRING' | 'JSON' | 'INT32' | 'INT64' | 'TIMESTAMP';
  of: (r: ReplayedRecord) => Cell;
}

/**
 * UTF-8 bytes of each text, in shared chunks: a view per value, not a buffer per value (which the
 * Parquet writer makes of a string, and which cost the collector most of a Parquet replay).
 */
function chunkedEncoder(): (text: string) => Uint8Array {
  let chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  return (text) => {
    const most = text.length * 3;
    if (most > CHUNK) return Buffer.from(text);
    if (used + most > CHUNK) {
      chunk = Buffer.allocUnsafe(CHUNK);
      used = 0;
    }
    const size = chunk.write(text, used);
    const bytes = chunk.subarray(used, used + size);
    used += size;
    return bytes;
  };
}

/** Parquet columns: the envelope and the value as JSON, or the fields asked for as text. */
function parquetColumns(
  fields: readonly string[] | undefined,
  /** How the value's JSON is kept: as UTF-8 bytes for the file, or as text to be packed. */
  encode: (text: string) => Cell,
): Column[] {
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
    { name: 'value', type: 'JSON' as const, of: (r: ReplayedRecord) => encode(valueJson(r)) },
  ];
}

/**
 * A column's cells packed for another thread: the value's bytes in one buffer with where each
 * ends (-1 for null), longs and times as typed arrays. Structured cloning a view, a bigint or a
 * Date per cell cost the receiving thread about as much as making them.
 */
export type PackedColumn =
  | { kind: 'cells'; cells: Cell[] }
  | { kind: 'bytes'; bytes: Uint8Array; ends: Int32Array }
  | { kind: 'int64'; values: BigInt64Array }
  | { kind: 'time'; values: Float64Array };

/** A column's cells as made for its type (the JSON column's as text), packed for the crossing. */
function packColumn(type: Column['type'], cells: Cell[]): PackedColumn {
  if (type === 'INT64') return { kind: 'int64', values: BigInt64Array.from(cells as bigint[]) };
  if (type === 'TIMESTAMP') {
    return { kind: 'time', values: Float64Array.from(cells as Date[], (d) => d.getTime()) };
  }
  if (type !== 'JSON') return { kind: 'cells', cells };
  const texts = cells as (string | null)[];
  let total = 0;
  for (const text of texts) total += text === null ? 0 : Buffer.byteLength(text);
  // A buffer of its own (not from Node's pool): it is transferred, which detaches it.
  const bytes = Buffer.allocUnsafeSlow(total);
  const ends = new Int32Array(texts.length);
  let at = 0;
  texts.forEach((text, i) => {
    if (text === null) {
      ends[i] = -1;
      return;
    }
    at += bytes.write(text, at);
    ends[i] = at;
  });
  return { kind: 'bytes', bytes, ends };
}

function unpackColumn(column: PackedColumn): Cell[] {
  switch (column.kind) {
    case 'cells':
      return column.cells;
    case 'int64':
      return Array.from(column.values);
    case 'time':
      return Array.from(column.values, (t) => new Date(t));
    case 'bytes': {
      const { bytes, ends } = column;
      const cells: Cell[] = new Array(ends.length);
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i] as number;
        if (end < 0) cells[i] = null;
        else {
          cells[i] = bytes.subarray(start, end);
          start = end;
        }
      }
      return cells;
    }
  }
}

/** Parquet rows made and packed for the thread that writes the file. */
function parquetRows(fields: readonly string[] | undefined): Sink & { take(): Formatted } {
  // The value's JSON stays text until packed: encoding it here would copy it twice.
  const columns = parquetColumns(fields, (text) => text);
  let cells: Cell[][] = columns.map(() => []);
  let count = 0;
  return {
    write(record) {
      for (let i = 0; i < columns.length; i++) cells[i]?.push((columns[i] as Column).of(record));
      count++;
      return undefined;
    },
    take() {
      const taken: Formatted = {
        kind: 'rows',
        count,
        columns: columns.map((c, i) => packColumn(c.type, cells[i] ?? [])),
      };
      cells = columns.map(() => []);
      count = 0;
      return taken;
    },
    close: async () => {},
  };
}

function parquetSink(file: string, fields: readonly string[] | undefined): Sink {
  const columns = parquetColumns(fields, chunkedEncoder());
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
    write(record) {
      for (let i = 0; i < columns.length; i++) cells[i]?.push((columns[i] as Column).of(record));
      return ++rows >= ROW_GROUP ? flush() : undefined;
    },
    async writeFormatted(formatted) {
      if (formatted.kind !== 'rows') throw new Error('text given to a Parquet output');
      const unpacked = formatted.columns.map(unpackColumn);
      // Row groups end where they would have with the records written one by one (same bytes).
      for (let row = 0; row < formatted.count; row++) {
        for (let i = 0; i < columns.length; i++) cells[i]?.push(unpacked[i]?.[row] ?? null);
        if (++rows >= ROW_GROUP) await flush();
      }
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
  const text = textFormat(format, options.fields);
  if (!text) {
    if (!options.out) throw new Error('parquet needs a file');
    return parquetSink(options.out, options.fields);
  }
  const out: Writable = options.out
    ? createWriteStream(options.out)
    : isMainThread
      ? process.stdout
      : // A worker's process.stdout goes through the main thread; file descriptor 1 does not.
        createWriteStream('/dev/stdout', { fd: 1, autoClose: false });
  return textSink(out, text, options.follow ?? false);
}
