/**
 * Avro serde over the schema registry. Encoding uses the id under which the current schema of a
 * record is registered (looked up once; producers never register, the bootstrap does). Decoding
 * reads the writer schema by the id in the payload (cached) and resolves it into the reader
 * schema this code knows for that record type, so old and new versions both decode.
 */
import type { SchemaRegistry } from '@parley/platform/schema-registry';
import { isRegistryNotFound, SchemaType } from '@parley/platform/schema-registry';
import avro from 'avsc';
import { avroTypeOptions } from '../avro/logical-types.ts';
import type { RecordSchema, SchemaSet } from '../avro/schema-set.ts';
import type { RecordMap, RecordName } from '../generated/records.ts';
import {
  CorruptPayloadError,
  InvalidRecordError,
  RegistryUnavailableError,
  SchemaNotRegisteredError,
  SerdeError,
  TruncatedPayloadError,
  UnknownRecordTypeError,
  UnknownSchemaIdError,
} from './errors.ts';
import { type EventName, type FieldSelection, selectFields } from './field-selection.ts';
import { frame, unframe } from './wire-format.ts';

export type AnyRecord = { [K in RecordName]: { type: K; value: RecordMap[K] } }[RecordName];

export interface Encoded {
  payload: Buffer;
  schemaId: number;
  record: RecordSchema;
}

export type Decoded = AnyRecord & { schemaId: number };

interface Reader {
  record: RecordSchema;
  /** The type values are read into: the record's current schema, or a selection of its fields. */
  type: avro.Type;
  resolver: avro.Resolver | undefined;
  /** The schema the record was written with. */
  writer: avro.Type;
}

export interface DecodeOptions {
  /** The record exactly as its writer's schema has it (fields since added absent, removed present). */
  asWritten?: boolean;
  /** Only these fields of the events it lists (see field-selection.ts). */
  selection?: FieldSelection;
}

export class AvroSerde {
  private readonly ids = new Map<string, Promise<number>>();
  private readonly readers = new Map<number, Promise<Reader>>();
  /** The readers loaded so far, by schema id. */
  private readonly loaded = new Map<number, Reader>();
  /** The readers of each selection, by schema id. */
  private readonly selected = new WeakMap<FieldSelection, Map<number, Reader>>();

  constructor(
    private readonly registry: SchemaRegistry,
    readonly schemas: SchemaSet,
  ) {}

  /** The registry id of a record's current schema. */
  schemaIdOf(record: RecordSchema): Promise<number> {
    let id = this.ids.get(record.subject);
    if (!id) {
      id = this.registry
        .getRegistryIdBySchema(record.subject, {
          type: SchemaType.AVRO,
          schema: JSON.stringify(record.schema),
        })
        .catch((error: unknown) => {
          this.ids.delete(record.subject);
          if (isRegistryNotFound(error)) throw new SchemaNotRegisteredError(record.subject);
          throw new RegistryUnavailableError(error);
        });
      this.ids.set(record.subject, id);
    }
    return id;
  }

  async encode<N extends RecordName>(name: N, value: RecordMap[N]): Promise<Encoded> {
    const record = this.schemas.byName(name);
    if (!record) throw new UnknownRecordTypeError(name);
    const paths: string[] = [];
    if (
      !record.type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') })
    ) {
      throw new InvalidRecordError(name, paths);
    }
    const schemaId = await this.schemaIdOf(record);
    return { payload: frame(schemaId, record.type.toBuffer(value)), schemaId, record };
  }

  /**
   * The record, resolved into the current schema of its type; or, `asWritten`, exactly as its
   * writer's schema has it (fields since added are absent, removed ones present). With a
   * `selection`, an event it lists has only the selected fields.
   */
  async decode(payload: Buffer, options: DecodeOptions = {}): Promise<Decoded> {
    const { schemaId, body } = unframe(payload);
    const reader = this.loaded.get(schemaId) ?? (await this.readerFor(schemaId));
    return read(this.select(reader, schemaId, options.selection), body, schemaId, options);
  }

  /**
   * What decode gives, without waiting, when the writer's schema is already known here; undefined
   * when it is not (decode fetches it). A consumer decoding millions of records saves a promise
   * on each.
   */
  decodeKnown(payload: Buffer, options: DecodeOptions = {}): Decoded | undefined {
    const { schemaId, body } = unframe(payload);
    const reader = this.loaded.get(schemaId);
    return (
      reader && read(this.select(reader, schemaId, options.selection), body, schemaId, options)
    );
  }

  /** The reader of a selection's fields of the record, made once per selection and schema id. */
  private select(reader: Reader, schemaId: number, selection: FieldSelection | undefined): Reader {
    const fields = selection?.events[reader.record.name as EventName];
    if (!selection || !fields) return reader;
    let readers = this.selected.get(selection);
    if (!readers) {
      readers = new Map();
      this.selected.set(selection, readers);
    }
    let found = readers.get(schemaId);
    if (!found) {
      const type = avro.Type.forSchema(
        selectFields(reader.record.schema, fields, selection.metadata) as avro.Schema,
        avroTypeOptions(),
      );
      try {
        found = { ...reader, type, resolver: type.createResolver(reader.writer) };
      } catch (error) {
        throw new SerdeError(
          'INCOMPATIBLE_WRITER_SCHEMA',
          `schema id ${schemaId} of ${reader.record.name} lacks a selected field: ${(error as Error).message}`,
          { cause: error },
        );
      }
      readers.set(schemaId, found);
    }
    return found;
  }

  private readerFor(schemaId: number): Promise<Reader> {
    let reader = this.readers.get(schemaId);
    if (!reader) {
      reader = this.loadReader(schemaId).then(
        (loaded) => {
          this.loaded.set(schemaId, loaded);
          return loaded;
        },
        (error: unknown) => {
          this.readers.delete(schemaId);
          throw error;
        },
      );
      this.readers.set(schemaId, reader);
    }
    return reader;
  }

  private async loadReader(schemaId: number): Promise<Reader> {
    let writer: avro.Type;
    try {
      writer = (await this.registry.getSchema(schemaId)) as unknown as avro.Type;
    } catch (error) {
      if (isRegistryNotFound(error)) throw new UnknownSchemaIdError(schemaId, error);
      throw new RegistryUnavailableError(error);
    }
    const writerName = writer.name ?? '(unnamed)';
    const record = this.schemas.byFullName(writerName);
    if (!record) throw new UnknownRecordTypeError(writerName);
    if (writer.equals(record.type))
      return { record, type: record.type, resolver: undefined, writer };
    try {
      return { record, type: record.type, resolver: record.type.createResolver(writer), writer };
    } catch (error) {
      throw new SerdeError(
        'INCOMPATIBLE_WRITER_SCHEMA',
        `schema id ${schemaId} of ${writerName} cannot be read with the current schema: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

/** A payload's body decoded by its reader. */
function read(reader: Reader, body: Buffer, schemaId: number, options: DecodeOptions): Decoded {
  const { record, type, resolver, writer } = reader;
  let value: unknown;
  try {
    value = options.asWritten
      ? writer.fromBuffer(body)
      : resolver
        ? type.fromBuffer(body, resolver)
        : type.fromBuffer(body);
  } catch (error) {
    const message = (error as Error).message;
    if (/truncated/i.test(message)) throw new TruncatedPayloadError(message, error);
    throw new CorruptPayloadError(message, error);
  }
  return { type: record.name, value, schemaId } as Decoded;
}
