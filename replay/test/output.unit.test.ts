import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { redactor } from '@parley/schemas/avro/redact';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { ReplayedRecord } from '../src/replayed-record.ts';
import { csvCell, formattingSink, jsonOf, openSink } from '../src/sinks.ts';

/** Records of several types, one without an aggregate id, values with text JSON has to escape. */
function records(count: number): ReplayedRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const value =
      i % 7 === 0
        ? { note: `line\n "${i}" \u00e9` }
        : { metadata: { aggregateId: `c-${i % 13}` }, text: null, n: i };
    return new ReplayedRecord(
      'chat.conversation-events',
      i % 3,
      String(1_000_000_000 + i),
      new Date(1_700_000_000_000 + i * 17).toISOString(),
      '{}',
      i % 7 === 0 ? 'Other' : 'UserMessagePosted',
      value,
    );
  });
}

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

  it('writes the same Parquet file from rows another thread made as from the records, across row groups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-parquet-'));
    try {
      // 12,345 rows: row groups end at 5,000 and 10,000 inside the slices handed over.
      const all = records(12_345);
      for (const fields of [undefined, ['offset', 'type', 'value.metadata.aggregateId']]) {
        const alone = await parquetFile(join(dir, 'alone.parquet'), fields, all, () => false);
        // Slices of 999, every other one made "elsewhere" and handed over packed.
        const shared = await parquetFile(
          join(dir, 'shared.parquet'),
          fields,
          all,
          (n) => n % 2 === 0,
        );
        assert.ok(shared.equals(alone), `fields ${fields}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A Parquet file of these records, the slices `elsewhere` says made as another thread would. */
async function parquetFile(
  file: string,
  fields: string[] | undefined,
  all: ReplayedRecord[],
  elsewhere: (slice: number) => boolean,
): Promise<Buffer> {
  const sink = openSink('parquet', { out: file, fields });
  const other = formattingSink('parquet', fields);
  for (let start = 0, slice = 0; start < all.length; start += 999, slice++) {
    const part = all.slice(start, start + 999);
    if (!elsewhere(slice)) {
      for (const r of part) await sink.write(r);
      continue;
    }
    for (const r of part) other.write(r);
    // Cloned, as a worker thread receives it.
    const formatted = structuredClone(other.take());
    assert.equal(formatted.kind, 'rows');
    await sink.writeFormatted?.(formatted);
  }
  await sink.close();
  return readFileSync(file);
}
