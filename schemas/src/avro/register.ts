/**
 * Registers every record schema under its subject (TopicRecordNameStrategy) and pins the
 * subject's compatibility to FULL_TRANSITIVE. Registering an unchanged schema is a no-op that
 * returns its id; an incompatible one is refused by the registry and reported.
 */
import {
  Compatibility,
  type SchemaRegistry,
  type SchemaRegistryOptions,
  SchemaType,
  setSubjectCompatibility,
} from '@parley/platform/schema-registry';
import type { SchemaSet } from './schema-set.ts';

export const COMPATIBILITY = Compatibility.FULL_TRANSITIVE;

export interface Registration {
  subject: string;
  id?: number;
  error?: string;
}

export async function registerSchemas(
  registry: SchemaRegistry,
  options: SchemaRegistryOptions,
  set: SchemaSet,
): Promise<Registration[]> {
  const results: Registration[] = [];
  for (const record of set.records) {
    try {
      await setSubjectCompatibility(options, record.subject, COMPATIBILITY);
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(record.schema) },
        { subject: record.subject, compatibility: COMPATIBILITY },
      );
      results.push({ subject: record.subject, id });
    } catch (error) {
      results.push({ subject: record.subject, error: (error as Error).message });
    }
  }
  return results;
}
