/**
 * Logical types the serde enforces. `uuid` strings must be UUIDs on the way out, because
 * other Avro implementations (Java, Python fastavro) refuse anything else on the way in.
 * `timestamp-millis` stays a plain number of milliseconds in TypeScript.
 */
import { randomUUID } from 'node:crypto';
import avro from 'avsc';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UuidType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value;
  }

  override _toValue(value: unknown): unknown {
    return typeof value === 'string' && UUID.test(value) ? value : undefined;
  }

  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'string', 'logical:uuid') ? (value: unknown) => value : undefined;
  }

  // avsc's typings declare random() as returning a Type; at run time it returns a value.
  override random(): avro.types.LogicalType {
    return randomUUID() as unknown as avro.types.LogicalType;
  }
}

/** Fresh options per parse: avsc keeps its registry of named types in the options object. */
export function avroTypeOptions(): Partial<avro.ForSchemaOptions> {
  return {
    logicalTypes: {
      uuid: UuidType as unknown as new (
        schema: avro.Schema,
        opts?: unknown,
      ) => avro.types.LogicalType,
    },
  };
}
