/**
 * Personal data left out of what people read from the log (analysts' replays, the ops page's
 * dead letters): every field the schemas mark `pii` (encrypted: emails and
 * names; content: titles, messages, replies) comes out as null, whatever it holds (sealed or, in
 * old events, clear). There is no option to decrypt: a replay never holds a key. Erased people
 * stay erased because nothing of theirs is shown in the first place.
 */
import type { SchemaSet } from './schema-set.ts';

export type Redactor = (type: string, value: unknown) => unknown;

/**
 * A copy of each record with its personal fields null: only the objects on the way to a personal
 * field are copied (a replay writes millions of records; a deep clone of each costs more than its
 * decoding). The value given is left as it was.
 */
export function redactor(schemas: SchemaSet): Redactor {
  const paths = new Map(
    schemas.records.map((r) => [r.name, r.pii.map((p) => p.path.split('.'))] as const),
  );
  return (type, value) => {
    const fields = paths.get(type);
    if (!fields || fields.length === 0 || value === null || typeof value !== 'object') {
      return value;
    }
    let copy = { ...(value as Record<string, unknown>) };
    for (const path of fields) copy = nullAt(copy, path);
    return copy;
  };
}

/** `record` (already a copy) with the field at `path` null, copying the objects below it. */
function nullAt(record: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  const [key, ...rest] = path;
  if (key === undefined || !(key in record)) return record;
  if (rest.length === 0) {
    record[key] = null;
    return record;
  }
  const inner = record[key];
  if (inner === null || typeof inner !== 'object') return record;
  record[key] = nullAt({ ...(inner as Record<string, unknown>) }, rest);
  return record;
}
