/**
 * Avro serde over the schema registry. Encoding uses the id under which the current schema of a
 * record is registered (looked up once; producers never register, the bootstrap does). Decoding
 * reads the writer schema by the id in the payload (cached) and resolves it into the reader
 * schema this code knows for that record type, so old and new versions both decode.
 */
import type { SchemaRegistry } from '@parley/platform/schema-registry';
import { isRegistryNotFound, SchemaType } from '@parley/platform/schema-registry';
import type avro from 'avsc';
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
  resolver: avro.Resolver | undefined;
  /** The schema the record was written with. */
  writer: avro.Type;
}

export class AvroSerde {
  private readonly ids = new Map<string, Promise<number>>();
  private readonly readers = new Map<number, Promise<Reader>>();
  /** The readers loaded so far, by schema id. */
  private readonly loaded = new Map<number, Reader>();

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
   * writer's schema has it (fields since added are absent, removed ones present).
   */
  async decode(payload: Buffer, { asWritten = false } = {}): Promise<Decoded> {
    const { schemaId, body } = unframe(payload);
    const reader = this.loaded.get(schemaId) ?? (await this.readerFor(schemaId));
    return read(reader, body, schemaId, asWritten);
  }

  /**
   * What decode gives, without waiting, when the writer's schema is already known here; undefined
   * when it is not (decode fetches it). A consumer decoding millions of records saves a promise
   * on each.
   */
  decodeKnown(payload: Buffer, { asWritten = false } = {}): Decoded | undefined {
    const { schemaId, body } = unframe(payload);
    const reader = this.loaded.get(schemaId);
    return reader && read(reader, body, schemaId, asWritten);
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
    if (writer.equals(record.type)) return { record, resolver: undefined, writer };
    try {
      return { record, resolver: record.type.createResolver(writer), writer };
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
function read(reader: Reader, body: Buffer, schemaId: number, asWritten: boolean): Decoded {
  const { record, resolver, writer } = reader;
  let value: unknown;
  try {
    value = asWritten
      ? writer.fromBuffer(body)
      : resolver
        ? record.type.fromBuffer(body, resolver)
        : record.type.fromBuffer(body);
  } catch (error) {
    const message = (error as Error).message;
    if (/truncated/i.test(message)) throw new TruncatedPayloadError(message, error);
    throw new CorruptPayloadError(message, error);
  }
  return { type: record.name, value, schemaId } as Decoded;
}
