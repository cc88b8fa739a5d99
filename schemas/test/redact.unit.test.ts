import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { recordsWithoutBytesWhenRedacted } from '../src/avro/redact.ts';
import { loadSchemaSet, type SchemaSet } from '../src/avro/schema-set.ts';

const record = (name: string, fields: unknown[], pii: string[]) => ({
  name,
  type: avro.Type.forSchema({ type: 'record', name, fields } as avro.Schema),
  pii: pii.map((path) => ({ path, kind: 'encrypted' })),
});

describe('records without bytes once redacted', () => {
  it('given bytes only in personal fields, then the record is plain JSON once redacted', () => {
    const sealed = {
      type: 'record',
      name: 'Sealed',
      fields: [{ name: 'ciphertext', type: 'bytes' }],
    };
    const set = {
      records: [
        record('OnlyPersonal', [{ name: 'email', type: ['null', sealed] }], ['email']),
        record('Clear', [{ name: 'digest', type: 'bytes' }], []),
        record('Nested', [{ name: 'inner', type: { type: 'array', items: 'bytes' } }], []),
        record('Fixed', [{ name: 'id', type: { type: 'fixed', name: 'Id', size: 4 } }], []),
        record('Text', [{ name: 'n', type: 'long' }], []),
      ],
    } as unknown as SchemaSet;
    assert.deepEqual([...recordsWithoutBytesWhenRedacted(set)].sort(), ['OnlyPersonal', 'Text']);
  });

  it("given Parley's schemas, then every record is (bytes are only in sealed personal data)", () => {
    const set = loadSchemaSet();
    assert.equal(recordsWithoutBytesWhenRedacted(set).size, set.records.length);
  });
});
