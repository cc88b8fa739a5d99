import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactor } from '@parley/schemas/avro/redact';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { csvCell, jsonOf } from '../src/sinks.ts';

describe('what a replay writes', () => {
  it('given a record with personal data, then every pii field is null and the rest stays', () => {
    const redact = redactor(loadSchemaSet());
    const sealed = { keyId: 'k', nonce: Buffer.alloc(12), ciphertext: Buffer.from('x') };
    const value = {
      metadata: { aggregateId: 'c1', actor: 'user:u1' },
      messageId: 'm1',
      authorId: 'u1',
      text: 'my secret in clear (an old event)',
      encryptedText: sealed,
    };
    const out = redact('UserMessagePosted', value) as Record<string, unknown>;
    assert.equal(out.text, null);
    assert.equal(out.encryptedText, null);
    assert.equal(out.authorId, 'u1');
    assert.equal(value.text, 'my secret in clear (an old event)', 'the input is not changed');
    const user = redact('UserRegistered', { email: sealed, displayName: sealed, role: 'user' });
    assert.deepEqual(user, { email: null, displayName: null, role: 'user' });
  });

  it('writes CSV cells per RFC 4180 and JSON with longs and bytes as text', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"\n'), '"say ""hi""\n"');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(12), '12');
    assert.equal(csvCell({ a: 1 }), '"{""a"":1}"');
    assert.equal(jsonOf({ n: 10n, b: new Uint8Array([1, 2]) }), '{"n":"10","b":"AQI="}');
  });
});
