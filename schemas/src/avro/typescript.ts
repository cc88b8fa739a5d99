/**
 * Generates TypeScript types from the schema set, so a field added to an .avsc file and not to
 * the code (or the other way round) fails the typecheck. `npm run schemas:generate` writes
 * src/generated/records.ts; a unit test fails when that file is out of date.
 */
import type { AvroSchemaJson, SchemaSet } from './schema-set.ts';

const HEADER = `// Generated from schemas/avro by \`npm run schemas:generate\`. Do not edit.
`;

function shortName(fullName: string): string {
  return fullName.split('.').at(-1) ?? fullName;
}

function pascal(context: string): string {
  return context.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

class Emitter {
  private readonly emitted = new Set<string>();
  readonly blocks: string[] = [];

  tsType(node: unknown): string {
    if (typeof node === 'string') {
      switch (node) {
        case 'null':
          return 'null';
        case 'boolean':
          return 'boolean';
        case 'int':
        case 'long':
        case 'float':
        case 'double':
          return 'number';
        case 'bytes':
          return 'Buffer';
        case 'string':
          return 'string';
        default:
          return shortName(node);
      }
    }
    if (Array.isArray(node)) return node.map((branch) => this.tsType(branch)).join(' | ');
    const schema = node as AvroSchemaJson;
    switch (schema.type) {
      case 'record':
      case 'enum':
        this.named(schema);
        return shortName(String(schema.name));
      case 'array':
        return `Array<${this.tsType(schema.items)}>`;
      case 'map':
        return `Record<string, ${this.tsType(schema.values)}>`;
      case 'fixed':
        return 'Buffer';
      default:
        return this.tsType(schema.type);
    }
  }

  named(schema: AvroSchemaJson): void {
    const name = shortName(String(schema.name));
    if (this.emitted.has(name)) return;
    this.emitted.add(name);
    const doc = schema.doc ? `/** ${String(schema.doc)} */\n` : '';
    if (schema.type === 'enum') {
      const symbols = (schema.symbols as string[]).map((s) => `'${s}'`).join(' | ');
      this.blocks.push(`${doc}export type ${name} = ${symbols};`);
      return;
    }
    const fields = (schema.fields as AvroSchemaJson[]).map((f) => {
      const fieldDoc = f.doc
        ? `  /** ${String(f.doc)}${f.pii ? ` (personal data: ${String(f.pii)})` : ''} */\n`
        : '';
      return `${fieldDoc}  ${String(f.name)}: ${this.tsType(f.type)};`;
    });
    this.blocks.push(`${doc}export interface ${name} {\n${fields.join('\n')}\n}`);
  }
}

export function generateTypeScript(set: SchemaSet): string {
  const emitter = new Emitter();
  for (const record of set.records) emitter.tsType(record.schema);

  const groups = new Map<string, string[]>();
  for (const record of set.records) {
    const key = `${pascal(record.context)}${record.kind === 'command' ? 'Command' : 'Event'}`;
    groups.set(key, [...(groups.get(key) ?? []), record.name]);
  }
  const unions = [...groups.entries()].map(([group, names]) => {
    const map = names.map((n) => `  ${n}: ${n};`).join('\n');
    const label = group.replace(/(Command|Event)$/, ' $1').toLowerCase();
    const list = names.map((n) => `'${n}'`).join(', ');
    return `export interface ${group}Map {\n${map}\n}\n/** A decoded ${label} with its type tag. */\nexport type ${group} = { [K in keyof ${group}Map]: { type: K; value: ${group}Map[K] } }[keyof ${group}Map];\n/** The ${label} type names, at run time. */\nexport const ${group[0]?.toLowerCase()}${group.slice(1)}Types: ReadonlyArray<keyof ${group}Map> = [${list}];`;
  });
  const all = [...groups.keys()].map((g) => `${g}Map`).join(', ');
  const recordMap = `/** Every record on Kafka by its type name. */\nexport interface RecordMap extends ${all} {}\nexport type RecordName = keyof RecordMap;`;
  return `${HEADER}\n${[...emitter.blocks, ...unions, recordMap].join('\n\n')}\n`;
}
