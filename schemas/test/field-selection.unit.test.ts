// Reading some fields of an event: the reader schema keeps only them, stays self-contained when a
// kept field uses a named type first defined in a field left out, and reads the bytes the whole
// schema wrote, the skipped fields consumed but never built.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { avroTypeOptions } from '../src/avro/logical-types.ts';
import { loadSchemaSet } from '../src/avro/schema-set.ts';
import { selectFields } from '../src/serde/field-selection.ts';

const set = loadSchemaSet();
const reply = set.byName('AssistantReplyRecorded');

const readerOf = (schema: Record<string, unknown>) =>
  avro.Type.forSchema(schema as avro.Schema, avroTypeOptions());

describe('field selection', () => {
  it('given a written reply, when read with three fields selected, then only they are built', () => {
    assert.ok(reply);
    const written = reply.type.random() as unknown as Record<string, unknown>;
    const reader = readerOf(
      selectFields(
        reply.schema,
        ['promptTokens', 'completionTokens'],
        ['aggregateId', 'occurredAt'],
      ),
    );
    const value = reader.fromBuffer(
      reply.type.toBuffer(written),
      reader.createResolver(reply.type),
    ) as Record<string, unknown>;
    const metadata = written.metadata as Record<string, unknown>;
    assert.deepEqual(JSON.parse(JSON.stringify(value)), {
      metadata: { aggregateId: metadata.aggregateId, occurredAt: metadata.occurredAt },
      promptTokens: written.promptTokens,
      completionTokens: written.completionTokens,
    });
  });

  it('given a kept field whose named type is first defined in a dropped one, then it is written out there', () => {
    const schema = {
      type: 'record',
      name: 'Sample',
      namespace: 'dev.parley.test',
      fields: [
        {
          name: 'metadata',
          type: { type: 'record', name: 'Meta', fields: [{ name: 'at', type: 'long' }] },
        },
        {
          name: 'dropped',
          type: [
            'null',
            { type: 'record', name: 'Sealed', fields: [{ name: 'bytes', type: 'bytes' }] },
          ],
        },
        { name: 'kept', type: ['null', 'Sealed'] },
        { name: 'again', type: 'Sealed' },
      ],
    };
    const whole = readerOf(schema);
    const selected = selectFields(schema, ['kept', 'again'], ['at']);
    const fields = selected.fields as Array<{ name: string; type: unknown }>;
    assert.deepEqual(
      fields.map((f) => f.name),
      ['metadata', 'kept', 'again'],
    );
    // Defined once, at its first use among the kept fields, referred to by name after.
    assert.deepEqual(fields[1]?.type, [
      'null',
      { type: 'record', name: 'Sealed', fields: [{ name: 'bytes', type: 'bytes' }] },
    ]);
    assert.equal(fields[2]?.type, 'Sealed');
    const reader = readerOf(selected);
    const value = reader.fromBuffer(
      whole.toBuffer({
        metadata: { at: 5 },
        dropped: { bytes: Buffer.from('skip me') },
        kept: { bytes: Buffer.from('k') },
        again: { bytes: Buffer.from('a') },
      }),
      reader.createResolver(whole),
    ) as { kept: { bytes: Buffer }; again: { bytes: Buffer }; dropped?: unknown };
    assert.equal(value.kept.bytes.toString(), 'k');
    assert.equal(value.again.bytes.toString(), 'a');
    assert.equal(value.dropped, undefined);
  });

  it('given a field the record does not have, then the selection does not invent it', () => {
    assert.ok(reply);
    const selected = selectFields(reply.schema, ['noSuchField'], []);
    assert.deepEqual(
      (selected.fields as Array<{ name: string }>).map((f) => f.name),
      ['metadata'],
    );
  });
});
