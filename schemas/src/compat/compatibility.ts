/**
 * Offline FULL_TRANSITIVE check (ADR 0006): the current schema of a record must read data written
 * with every earlier version (backward: replays and new projections read old events), and every
 * earlier version must read data written with the current one (forward: consumers still on old
 * code during a rolling deploy read new events). Uses Avro's own resolution rules (avsc).
 * In practice: add or remove only fields that have a default; never change a field's type.
 */
import avro from 'avsc';
import type { AvroSchemaJson } from '../avro/schema-set.ts';

export interface Incompatibility {
  record: string;
  /** Where the earlier version came from, e.g. a commit id. */
  earlier: string;
  direction: 'backward' | 'forward';
  reason: string;
}

function resolves(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export function incompatibilities(
  record: string,
  current: AvroSchemaJson,
  earlier: ReadonlyArray<{ source: string; schema: AvroSchemaJson }>,
): Incompatibility[] {
  const now = avro.Type.forSchema(current as avro.Schema);
  const problems: Incompatibility[] = [];
  const seen = new Set<string>();
  for (const { source, schema } of earlier) {
    const then = avro.Type.forSchema(schema as avro.Schema);
    const fingerprint = then.fingerprint('sha256').toString('hex');
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    const backward = resolves(now, then);
    if (backward)
      problems.push({ record, earlier: source, direction: 'backward', reason: backward });
    const forward = resolves(then, now);
    if (forward) problems.push({ record, earlier: source, direction: 'forward', reason: forward });
  }
  return problems;
}
