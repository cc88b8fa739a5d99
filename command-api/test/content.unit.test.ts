import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { characters, validMessage, validTitle } from '../src/chat/content.ts';
import { MESSAGE_MAX_LENGTH, TITLE_MAX_LENGTH } from '../src/chat/conversation.ts';

describe('what people write', () => {
  it('counts characters as JSON Schema does: a surrogate pair is one', () => {
    assert.equal(characters(''), 0);
    assert.equal(characters('café'), 4);
    assert.equal(characters('😀😀'), 2);
    assert.equal(characters('a\ud83d'), 2);
  });

  it('takes a text at the limit in characters however many UTF-16 units it holds', () => {
    const message = `${'é'.repeat(MESSAGE_MAX_LENGTH - 1)}😀`;
    assert.equal(validMessage(message), message);
    const title = '😀'.repeat(TITLE_MAX_LENGTH);
    assert.equal(validTitle(title), title);
    assert.throws(() => validTitle(`${title}a`), /at most 200 characters/);
  });

  it('trims, and refuses what trimming leaves empty', () => {
    assert.equal(validTitle('  plans \n'), 'plans');
    assert.throws(() => validMessage(' \n\t\u00a0'), /must not be empty/);
  });
});
