/**
 * Analysts never get personal data: every field the schemas mark `pii` (encrypted: emails and
 * names; content: titles, messages, replies) comes out as null, whatever it holds (sealed or, in
 * old events, clear). There is no option to decrypt: a replay never holds a key. Erased people
 * stay erased because nothing of theirs is shown in the first place.
 */
import type { SchemaSet } from '@parley/schemas/avro/schema-set';

export type Redactor = (type: string, value: unknown) => unknown;

export function redactor(schemas: SchemaSet): Redactor {
  const paths = new Map(
    schemas.records.map((r) => [r.name, r.pii.map((p) => p.path.split('.'))] as const),
  );
  return (type, value) => {
    const fields = paths.get(type);
    if (!fields || fields.length === 0) return value;
    const copy = structuredClone(value) as Record<string, unknown>;
    for (const path of fields) nullAt(copy, path);
    return copy;
  };
}

function nullAt(record: Record<string, unknown>, path: readonly string[]): void {
  let here: unknown = record;
  for (const key of path.slice(0, -1)) {
    if (here === null || typeof here !== 'object') return;
    here = (here as Record<string, unknown>)[key];
  }
  const last = path.at(-1);
  if (last !== undefined && here !== null && typeof here === 'object' && last in here) {
    (here as Record<string, unknown>)[last] = null;
  }
}
