/**
 * Reading only some fields of the events: a consumer that counts messages needs their author and
 * time, not their ciphertext. The selection becomes a reader schema with just those fields, and
 * Avro's schema resolution skips the rest of what was written, so they are never allocated.
 */
import type {
  ChatEventMap,
  EventMetadata,
  IdentityEventMap,
  RecordMap,
} from '../generated/records.ts';

type EventMap = ChatEventMap & IdentityEventMap;
export type EventName = keyof EventMap;

/** The fields of an event besides its metadata. */
export type EventField<N extends EventName> = Exclude<keyof EventMap[N], 'metadata'> & string;

/** Which fields a consumer reads of each event it lists; the events it does not list are read whole. */
export interface FieldSelection {
  /** The metadata fields kept in each listed event. */
  readonly metadata: readonly (keyof EventMetadata & string)[];
  readonly events: { readonly [N in EventName]?: readonly EventField<N>[] };
}

type Kept<S extends FieldSelection, N extends EventName> = S['events'] extends {
  readonly [K in N]: readonly (infer F)[];
}
  ? F
  : never;

/** An event's value as a selection reads it: the listed fields and metadata, or all of them. */
export type SelectedValue<S extends FieldSelection, N extends EventName> = [Kept<S, N>] extends [
  never,
]
  ? RecordMap[N]
  : Pick<RecordMap[N], Kept<S, N> & keyof RecordMap[N]> & {
      metadata: Pick<EventMetadata, S['metadata'][number]>;
    };

/** Any event as a selection reads it, narrowed by `type` like the whole events. */
export type SelectedEvent<S extends FieldSelection> = {
  [N in EventName]: { type: N; value: SelectedValue<S, N> };
}[EventName];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const qualified = (name: string, namespace: string) =>
  name.includes('.') || !namespace ? name : `${namespace}.${name}`;

/** The named types (records, enums, fixed) a self-contained schema defines, by full name. */
function namedTypes(schema: unknown, namespace: string, found: Map<string, Json>): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) namedTypes(branch, namespace, found);
    return;
  }
  if (!isObject(schema)) return;
  const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
  if (
    typeof schema.name === 'string' &&
    ['record', 'enum', 'fixed'].includes(String(schema.type))
  ) {
    found.set(schema.name.includes('.') ? schema.name : `${ns}.${schema.name}`, schema);
  }
  for (const field of Array.isArray(schema.fields) ? schema.fields : []) {
    if (isObject(field)) namedTypes(field.type, ns, found);
  }
  namedTypes(schema.type, ns, found);
  namedTypes(schema.items, ns, found);
  namedTypes(schema.values, ns, found);
}

/**
 * Rewrites types so that each named type is defined at its first use: a reference to one not
 * written yet gets its definition (taken from the whole schema) in its place.
 */
class FirstUseDefinitions {
  private readonly written = new Set<string>();

  constructor(private readonly definitions: ReadonlyMap<string, Json>) {}

  markWritten(name: string, namespace: string) {
    this.written.add(qualified(name, namespace));
  }

  type(type: unknown, namespace: string): unknown {
    if (typeof type === 'string') return this.reference(type, namespace);
    if (Array.isArray(type)) return type.map((branch) => this.type(branch, namespace));
    return isObject(type) ? this.complex(type, namespace) : type;
  }

  private reference(name: string, namespace: string): unknown {
    const full = qualified(name, namespace);
    const definition = this.definitions.get(full);
    return definition && !this.written.has(full) ? this.complex(definition, namespace) : name;
  }

  private complex(type: Json, namespace: string): Json {
    const inner = typeof type.namespace === 'string' ? type.namespace : namespace;
    if (typeof type.name === 'string') this.markWritten(type.name, inner);
    const out: Json = { ...type };
    if (Array.isArray(type.fields)) {
      out.fields = type.fields.map((f: Json) => ({ ...f, type: this.type(f.type, inner) }));
    }
    if (type.items !== undefined) out.items = this.type(type.items, inner);
    if (type.values !== undefined) out.values = this.type(type.values, inner);
    if (typeof type.type === 'object') out.type = this.type(type.type, inner);
    return out;
  }
}

/**
 * A record schema with only the given fields, and of its `metadata` field only the given
 * metadata fields. A named type defined in a field left out but used by one kept is written out
 * where it is first used, so the schema stays self-contained.
 */
export function selectFields(
  schema: Json,
  fields: readonly string[],
  metadata: readonly string[],
): Json {
  const namespace = typeof schema.namespace === 'string' ? schema.namespace : '';
  const definitions = new Map<string, Json>();
  namedTypes(schema, namespace, definitions);
  const kept = (schema.fields as Json[]).flatMap((field) => {
    if (field.name === 'metadata' && isObject(field.type)) {
      const type = field.type;
      const selected = (type.fields as Json[]).filter((f) => metadata.includes(String(f.name)));
      return [{ ...field, type: { ...type, fields: selected } }];
    }
    return fields.includes(String(field.name)) ? [field] : [];
  });
  const rewrite = new FirstUseDefinitions(definitions);
  rewrite.markWritten(String(schema.name), namespace);
  return {
    ...schema,
    fields: kept.map((field) => ({ ...field, type: rewrite.type(field.type, namespace) })),
  };
}
