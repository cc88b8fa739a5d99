import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { incompatibilities } from '../src/compat/compatibility.ts';

const v1 = {
  type: 'record',
  name: 'ConversationRenamed',
  fields: [
    { name: 'title', type: 'string' },
    { name: 'count', type: 'int' },
  ],
};
const earlier = [{ source: 'v1', schema: v1 }];
const check = (schema: Record<string, unknown>, history = earlier) =>
  incompatibilities('ConversationRenamed', schema, history).map(
    (p) => `${p.earlier}:${p.direction}`,
  );

describe('incompatibilities (FULL_TRANSITIVE)', () => {
  it('accepts an added optional field with a default', () => {
    const v2 = {
      ...v1,
      fields: [...v1.fields, { name: 'note', type: ['null', 'string'], default: null }],
    };
    assert.deepEqual(check(v2), []);
  });

  it('refuses removing a field without a default: consumers on the old schema cannot read new data', () => {
    assert.deepEqual(check({ ...v1, fields: [v1.fields[0]] }), ['v1:forward']);
  });

  it('refuses a new field without a default: the new schema cannot read old data', () => {
    assert.deepEqual(check({ ...v1, fields: [...v1.fields, { name: 'owner', type: 'string' }] }), [
      'v1:backward',
    ]);
  });

  it('refuses a changed type, even a promotion that only one direction allows', () => {
    assert.deepEqual(check({ ...v1, fields: [{ name: 'title', type: 'int' }, v1.fields[1]] }), [
      'v1:backward',
      'v1:forward',
    ]);
    assert.deepEqual(check({ ...v1, fields: [v1.fields[0], { name: 'count', type: 'long' }] }), [
      'v1:forward',
    ]);
  });

  it('checks every earlier version (transitive), not only the last', () => {
    const withNote = {
      ...v1,
      fields: [...v1.fields, { name: 'note', type: 'string', default: '' }],
    };
    const v3 = { ...v1, fields: [...v1.fields, { name: 'note', type: 'int', default: 0 }] };
    // v3 is fine against v1 alone, not against v2, which wrote `note` as a string.
    assert.deepEqual(check(v3, [{ source: 'v1', schema: v1 }]), []);
    assert.deepEqual(
      check(v3, [
        { source: 'v2', schema: withNote },
        { source: 'v1', schema: v1 },
      ]),
      ['v2:backward', 'v2:forward'],
    );
  });
});
