import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReplayArgs, UsageError } from '../src/options.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const parse = (...args: string[]) => parseReplayArgs(args, NOW);

describe('replay options', () => {
  it('reads positions as the edge, times or partition:offset pairs', () => {
    const o = parse('chat', '--from', '2026-11-30T10:00:00Z', '--to', '0:10,1:5');
    assert.deepEqual(o.from, { kind: 'time', at: Date.parse('2026-11-30T10:00:00Z') });
    assert.deepEqual(o.to, {
      kind: 'offsets',
      offsets: new Map([
        [0, 10],
        [1, 5],
      ]),
    });
    assert.deepEqual(parse('chat').from, { kind: 'edge' });
    assert.equal(parse('chat').format, 'ndjson');
    assert.deepEqual(parse('chat', '--type', 'UserRegistered', '--type', 'UserErased').types, [
      'UserRegistered',
      'UserErased',
    ]);
  });

  it('refuses bad input with a message naming the option', () => {
    for (const [args, message] of [
      [[], /one topic or context/],
      [['chat', '--from', '2027-01-01'], /--from: 2027-01-01 is in the future/],
      [['chat', '--from', 'yesterday'], /--from: expected beginning/],
      [['chat', '--from', '2026-11-30', '--to', '2026-11-29'], /--to is not after --from/],
      [['chat', '--from', '0:10', '--to', '0:5'], /--to 0:5 is not after --from 0:10/],
      [['chat', '--format', 'xml'], /--format: expected ndjson, csv, parquet/],
      [['chat', '--format', 'csv'], /needs --fields/],
      [['chat', '--format', 'parquet'], /needs --out/],
      [['chat', '--count', '0'], /--count: expected a whole number/],
      [['chat', '--aggregate', 'x'], /--aggregate: expected a UUID/],
      [['chat', '--follow', '--to', 'end'], /do not go together/],
      [['chat', '--on-error', 'ignore'], /--on-error: expected skip or stop/],
      [['chat', '--fields', 'a,,b'], /is not a field path/],
      [['chat', '--bogus'], /Unknown option/],
    ] as const) {
      assert.throws(
        () => parse(...args),
        (e: Error) => {
          assert.ok(e instanceof UsageError, args.join(' '));
          assert.match(e.message, message, args.join(' '));
          return true;
        },
      );
    }
  });
});
