/**
 * Offline BACKWARD_TRANSITIVE check (ADR 0006): the current schema of a record must read data
 * written with every earlier version of it. Uses Avro's own resolution rules (avsc): a field
 * without a default that old data lacks, or a type that cannot be promoted, makes it fail.
 */
import avro from 'avsc';
import type { AvroSchemaJson } from '../avro/schema-set.ts';

export interface Incompatibility {
  record: string;
  /** Where the earlier version came from, e.g. a commit id. */
  earlier: string;
  reason: string;
}

export function backwardIncompatibilities(
  record: string,
  current: AvroSchemaJson,
  earlier: ReadonlyArray<{ source: string; schema: AvroSchemaJson }>,
): Incompatibility[] {
  const reader = avro.Type.forSchema(current as avro.Schema);
  const problems: Incompatibility[] = [];
  const seen = new Set<string>();
  for (const { source, schema } of earlier) {
    const writer = avro.Type.forSchema(schema as avro.Schema);
    const fingerprint = writer.fingerprint('sha256').toString('hex');
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    try {
      reader.createResolver(writer);
    } catch (error) {
      problems.push({ record, earlier: source, reason: (error as Error).message });
    }
  }
  return problems;
}
