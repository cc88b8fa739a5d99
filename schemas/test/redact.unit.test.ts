import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { redactor } from '../src/avro/redact.ts';
import { redactedJsonWriters } from '../src/avro/redacted-json.ts';
import { loadSchemaSet, type SchemaSet } from '../src/avro/schema-set.ts';

const NASTY = 'quote " backslash \\ line\nbreak tab\t nul\u0000 é 😀 lone\ud800 </script>';

/** The value with every string in it replaced by one JSON has to escape. */
function nastier(value: unknown): unknown {
  if (typeof value === 'string') return NASTY;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(nastier);
  const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
  for (const [key, inner] of Object.entries(value)) copy[key] = nastier(inner);
  return copy;
}

const record = (name: string, fields: unknown[], pii: string[] = []) => ({
  name,
  type: avro.Type.forSchema({ type: 'record', name, fields } as avro.Schema),
  pii: pii.map((path) => ({ path, kind: 'encrypted' })),
});

describe('JSON writers of redacted records', () => {
  it("given any value of any of Parley's records, then the writer writes what JSON.stringify writes of its redacted copy", () => {
    const set = loadSchemaSet();
    const writers = redactedJsonWriters(set);
    const redact = redactor(set);
    for (const r of set.records) {
      const write = writers.get(r.name);
      assert.ok(write, `${r.name} has a writer`);
      for (let i = 0; i < 200; i++) {
        // A value as the serde gives it: decoded from its bytes.
        const random = r.type.fromBuffer(r.type.toBuffer(r.type.random()));
        for (const value of [random, nastier(random)]) {
          const expected = JSON.stringify(redact(r.name, value));
          assert.equal(write(value), expected, r.name);
          assert.equal(write(redact(r.name, value)), expected, `${r.name}, redacted first`);
        }
      }
    }
  });

  it('given what it does not write as JSON.stringify does, then a type gets no writer', () => {
    const sealed = { type: 'record', name: 'Sealed', fields: [{ name: 'c', type: 'bytes' }] };
    const set = {
      records: [
        record('OnlyPersonal', [{ name: 'email', type: ['null', sealed] }], ['email']),
        record('Clear', [{ name: 'digest', type: 'bytes' }]),
        record('List', [{ name: 'tags', type: { type: 'array', items: 'bytes' } }]),
        record('Tags', [{ name: 'tags', type: { type: 'array', items: 'string' } }]),
        record('Counts', [{ name: 'n', type: { type: 'map', values: 'int' } }]),
        record('Ratio', [{ name: 'x', type: 'double' }]),
        record('Either', [{ name: 'x', type: ['string', 'int'] }]),
        record('Text', [
          { name: 'n', type: 'long' },
          { name: 'ok', type: 'boolean' },
        ]),
      ],
    } as unknown as SchemaSet;
    assert.deepEqual([...redactedJsonWriters(set).keys()].sort(), ['OnlyPersonal', 'Tags', 'Text']);
  });
});
