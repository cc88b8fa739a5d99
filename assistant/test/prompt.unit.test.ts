import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPrompt, estimateTokens, type Turn } from '../src/prompt.ts';

const turn = (role: Turn['role'], text: string): Turn => ({ role, text });
const conversation = (pairs: number): Turn[] =>
  Array.from({ length: pairs }, (_, i) => [
    turn('user', `question ${i} ${'x'.repeat(40)}`),
    turn('assistant', `answer ${i} ${'y'.repeat(40)}`),
  ]).flat();

describe('the prompt of a reply', () => {
  it('given a short conversation, when the budget is ample, then every turn goes in, in order', () => {
    const turns = [...conversation(3), turn('user', 'and now?')];
    const prompt = buildPrompt('be brief', turns, 10_000);
    assert.equal(prompt.system, 'be brief');
    assert.equal(prompt.leftOut, 0);
    assert.deepEqual(
      prompt.messages.map((m) => m.content),
      turns.map((t) => t.text),
    );
  });

  it('given a long conversation, when it exceeds the budget, then the oldest turns go first', () => {
    const turns = [...conversation(50), turn('user', 'the new message')];
    const budget = 200;
    const prompt = buildPrompt('be brief', turns, budget);
    assert.ok(prompt.leftOut > 0);
    assert.equal(prompt.messages.at(-1)?.content, 'the new message');
    const cost =
      estimateTokens('be brief') +
      prompt.messages.reduce((n, m) => n + estimateTokens(String(m.content)), 0);
    assert.ok(cost <= budget, `${cost} tokens within ${budget}`);
    // What is kept is the newest part, whole turns, starting with the user.
    assert.deepEqual(
      prompt.messages.map((m) => m.content),
      turns.slice(prompt.leftOut).map((t) => t.text),
    );
    assert.equal(prompt.messages[0]?.role, 'user');
  });

  it('given a message larger than the budget, then it still goes in, alone', () => {
    const huge = 'z'.repeat(10_000);
    const prompt = buildPrompt('be brief', [...conversation(2), turn('user', huge)], 100);
    assert.deepEqual(
      prompt.messages.map((m) => m.content),
      [huge],
    );
  });
});
