// Parley's kafkajs-shaped messages as @platformatic/kafka records: Buffers throughout, headers as
// a map without the ones that have no value, and a clear refusal of what a record cannot carry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { platformaticRecord } from '../src/kafka-platformatic.ts';

describe('platformaticRecord', () => {
  it('carries key, value, headers and partition as Buffers, without headers that have no value', () => {
    const value = Buffer.from([0, 1, 2]);
    const record = platformaticRecord(
      'chat.commands',
      {
        key: 'conversation-1',
        value,
        headers: { id: 'c1', schema: Buffer.from('7'), none: undefined },
      },
      3,
    );
    assert.equal(record.topic, 'chat.commands');
    assert.deepEqual(record.key, Buffer.from('conversation-1'));
    assert.equal(record.value, value, 'the value Buffer is passed on, not copied');
    assert.equal(record.partition, 3);
    assert.deepEqual(
      [...record.headers].map(([name, v]) => [name.toString(), v.toString()]),
      [
        ['id', 'c1'],
        ['schema', '7'],
      ],
    );
  });

  it('leaves key and partition out when the message has none', () => {
    const record = platformaticRecord('t', { key: null, value: 'v' });
    assert.equal('key' in record, false);
    assert.equal('partition' in record, false);
    assert.deepEqual(record.value, Buffer.from('v'));
  });

  it('refuses a tombstone and a repeated header, naming the topic', () => {
    assert.throws(
      () => platformaticRecord('t', { key: 'k', value: null }),
      /without a value for t/,
    );
    assert.throws(
      () => platformaticRecord('t', { key: 'k', value: 'v', headers: { a: ['1', '2'] } }),
      /header a repeated/,
    );
  });
});
