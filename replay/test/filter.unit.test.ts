import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, FilterSyntaxError, fieldAt } from '../src/filter.ts';

const record = {
  topic: 'chat.conversation-events',
  partition: 2,
  offset: '41',
  type: 'AssistantReplyRecorded',
  headers: { 'parley.type': 'AssistantReplyRecorded' },
  value: {
    metadata: { actor: 'system:assistant', aggregateId: 'c1' },
    model: 'offline:parley',
    promptTokens: 120,
    text: null,
  },
};

describe('the --where filter', () => {
  it('compares fields by path: strings, numbers, offsets written as strings', () => {
    assert.equal(compileFilter('type == "AssistantReplyRecorded"')(record), true);
    assert.equal(compileFilter("value.model startswith 'offline'")(record), true);
    assert.equal(compileFilter('value.promptTokens >= 100 and offset > 40')(record), true);
    assert.equal(compileFilter('value.promptTokens < 100 or partition != 2')(record), false);
    assert.equal(compileFilter('headers.parley.type contains "Reply"')(record), true);
  });

  it('knows missing and null apart only through exists', () => {
    assert.equal(compileFilter('value.text exists')(record), false);
    assert.equal(compileFilter('value.model exists')(record), true);
    assert.equal(compileFilter('value.nothing == null')(record), true);
    assert.equal(compileFilter('not (value.nothing exists)')(record), true);
  });

  it('never compares across kinds (a string is not less than a number)', () => {
    assert.equal(compileFilter('value.model < 5')(record), false);
    assert.equal(compileFilter('value.promptTokens == "120"')(record), false);
  });

  it('refuses what is not the language, saying where, and runs nothing', () => {
    for (const [source, where] of [
      ['type ==', /expected a value, found the end/],
      ['type = "x"', /unexpected character at character 6/],
      ['process.exit(1)', /expected an operator .* found \(/],
      ['type == "a" extra', /unexpected extra/],
      ['(type == "a"', /expected "\)"/],
      ['"a" == type', /expected a field path/],
      ['type ~ 1', /unexpected character/],
    ] as const) {
      assert.throws(
        () => compileFilter(source),
        (e: Error) => {
          assert.ok(e instanceof FilterSyntaxError, source);
          assert.match(e.message, where, source);
          return true;
        },
      );
    }
    assert.throws(() => compileFilter(`${'('.repeat(40)}type == "a"${')'.repeat(40)}`), /nested/);
  });

  it('does not reach into prototypes', () => {
    assert.equal(fieldAt(record, ['value', 'constructor']), undefined);
    assert.equal(compileFilter('value.__proto__ exists')(record), false);
  });
});
