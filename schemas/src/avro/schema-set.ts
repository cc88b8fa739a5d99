/**
 * Loads the Avro schemas in schemas/avro/ (one .avsc file per record; the files are the source
 * of truth) into self-contained schemas: named types that a record refers to by name (the
 * metadata records, enums) are inlined at their first use, as the registry and every Avro
 * library need. Custom attributes survive, notably `pii` on personal-data fields.
 *
 * Layout: avro/common/*.avsc and avro/<context>/*.avsc hold shared named types;
 * avro/<context>/commands/*.avsc and avro/<context>/events/*.avsc hold the records on Kafka.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import avro from 'avsc';
import { CONTEXTS, topicNames } from '../topics/catalogue.ts';
import { avroTypeOptions } from './logical-types.ts';

export const AVRO_DIR = new URL('../../avro/', import.meta.url).pathname;

export type RecordKind = 'command' | 'event';
export type PiiKind = 'encrypted' | 'content';

export interface PiiField {
  /** Dotted path of the field in the record, e.g. `email` or `profile.displayName`. */
  path: string;
  kind: PiiKind;
}

export interface RecordSchema {
  /** Short name, unique in the project: the `type` of records and headers (e.g. UserRegistered). */
  readonly name: string;
  readonly fullName: string;
  readonly context: string;
  readonly kind: RecordKind;
  readonly topic: string;
  /** Subject under TopicRecordNameStrategy: `<topic>-<full record name>` (ADR 0006). */
  readonly subject: string;
  /** The self-contained schema as registered. */
  readonly schema: AvroSchemaJson;
  readonly type: avro.Type;
  readonly pii: readonly PiiField[];
  /** Path of the .avsc file, relative to the avro folder. */
  readonly file: string;
}

export type AvroSchemaJson = Record<string, unknown>;

export interface SchemaSet {
  readonly records: readonly RecordSchema[];
  /** Named types shared by records (metadata, enums), as written in their files. */
  readonly namedTypes: ReadonlyMap<string, AvroSchemaJson>;
  byName(name: string): RecordSchema | undefined;
  byFullName(fullName: string): RecordSchema | undefined;
}

export class SchemaFileError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SchemaFileError';
  }
}

function avscFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return avscFiles(path);
      return entry.endsWith('.avsc') ? [path] : [];
    });
}

function fullNameOf(schema: AvroSchemaJson): string {
  const name = String(schema.name);
  return name.includes('.') || !schema.namespace ? name : `${schema.namespace}.${name}`;
}

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);

/** Replaces references to shared named types by their definition at first use. */
function inline(
  node: unknown,
  named: ReadonlyMap<string, AvroSchemaJson>,
  defined: Set<string>,
  file: string,
): unknown {
  if (typeof node === 'string') return inlineReference(node, named, defined, file);
  if (Array.isArray(node)) return node.map((branch) => inline(branch, named, defined, file));
  if (!node || typeof node !== 'object') return node;
  const schema = node as AvroSchemaJson;
  if (['record', 'enum', 'fixed'].includes(String(schema.type)) && schema.name) {
    defined.add(fullNameOf(schema));
  }
  const child = (value: unknown) => inline(value, named, defined, file);
  if (schema.type === 'record' && Array.isArray(schema.fields)) {
    return {
      ...schema,
      fields: schema.fields.map((f: AvroSchemaJson) => ({ ...f, type: child(f.type) })),
    };
  }
  if (schema.type === 'array') return { ...schema, items: child(schema.items) };
  if (schema.type === 'map') return { ...schema, values: child(schema.values) };
  if (typeof schema.type === 'object') return { ...schema, type: child(schema.type) };
  return { ...schema };
}

function inlineReference(
  name: string,
  named: ReadonlyMap<string, AvroSchemaJson>,
  defined: Set<string>,
  file: string,
): unknown {
  if (PRIMITIVES.has(name) || defined.has(name)) return name;
  const definition = named.get(name);
  if (!definition) throw new SchemaFileError(file, `unknown type '${name}' (use full names)`);
  defined.add(name);
  return inline(definition, named, defined, file);
}

function collectPii(schema: AvroSchemaJson, prefix = ''): PiiField[] {
  if (schema.type !== 'record' || !Array.isArray(schema.fields)) return [];
  return schema.fields.flatMap((f: AvroSchemaJson) => {
    const path = `${prefix}${String(f.name)}`;
    const own: PiiField[] =
      f.pii === 'encrypted' || f.pii === 'content' ? [{ path, kind: f.pii as PiiKind }] : [];
    const branches = (Array.isArray(f.type) ? f.type : [f.type]).filter(
      (t: unknown): t is AvroSchemaJson => typeof t === 'object' && t !== null,
    );
    return [...own, ...branches.flatMap((t: AvroSchemaJson) => collectPii(t, `${path}.`))];
  });
}

function readJson(path: string, file: string): AvroSchemaJson {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AvroSchemaJson;
  } catch (error) {
    throw new SchemaFileError(file, `not valid JSON: ${(error as Error).message}`);
  }
}

export function loadSchemaSet(dir: string = AVRO_DIR): SchemaSet {
  const named = new Map<string, AvroSchemaJson>();
  const recordFiles: Array<{
    file: string;
    context: string;
    kind: RecordKind;
    json: AvroSchemaJson;
  }> = [];

  for (const path of avscFiles(dir)) {
    const file = relative(dir, path).split(sep).join('/');
    const json = readJson(path, file);
    const parts = file.split('/');
    const [context, folder] = parts;
    if (parts.length === 3 && (folder === 'commands' || folder === 'events') && context) {
      recordFiles.push({ file, context, kind: folder === 'commands' ? 'command' : 'event', json });
    } else if (parts.length === 2) {
      named.set(fullNameOf(json), json);
    } else {
      throw new SchemaFileError(
        file,
        'expected <context>/<commands|events>/<Record>.avsc or a shared type',
      );
    }
  }

  const records = recordFiles.map(({ file, context, kind, json }): RecordSchema => {
    const boundedContext = CONTEXTS.find((c) => c.name === context);
    if (!boundedContext) throw new SchemaFileError(file, `unknown context '${context}'`);
    if (json.type !== 'record')
      throw new SchemaFileError(file, 'a command or event must be a record');
    const fileName = file
      .split('/')
      .at(-1)
      ?.replace(/\.avsc$/, '');
    if (json.name !== fileName) {
      throw new SchemaFileError(
        file,
        `record name '${String(json.name)}' must match the file name`,
      );
    }
    const schema = inline(json, named, new Set(), file) as AvroSchemaJson;
    let type: avro.Type;
    try {
      type = avro.Type.forSchema(schema as avro.Schema, avroTypeOptions());
    } catch (error) {
      throw new SchemaFileError(file, `invalid Avro: ${(error as Error).message}`);
    }
    const fullName = fullNameOf(json);
    const topic =
      kind === 'command' ? topicNames.commands(boundedContext) : topicNames.events(boundedContext);
    return {
      name: String(json.name),
      fullName,
      context,
      kind,
      topic,
      subject: `${topic}-${fullName}`,
      schema,
      type,
      pii: collectPii(schema),
      file,
    };
  });

  const seen = new Map<string, string>();
  for (const r of records) {
    const other = seen.get(r.name);
    if (other)
      throw new SchemaFileError(r.file, `record name '${r.name}' is also used by ${other}`);
    seen.set(r.name, r.file);
  }

  const byName = new Map(records.map((r) => [r.name, r]));
  const byFullName = new Map(records.map((r) => [r.fullName, r]));
  return {
    records,
    namedTypes: named,
    byName: (name) => byName.get(name),
    byFullName: (fullName) => byFullName.get(fullName),
  };
}
