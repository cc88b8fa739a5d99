import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamSlots } from '../src/chat/stream-slots.ts';

describe('stream slots', () => {
  it('given a user holding every slot, when they ask for one more, then none is given', () => {
    const slots = new StreamSlots(2);
    assert.ok(slots.take('ann'));
    assert.ok(slots.take('ann'));
    assert.equal(slots.take('ann'), undefined);
    assert.equal(slots.total, 2);
  });

  it('given one user at the limit, when another asks, then they get a slot of their own', () => {
    const slots = new StreamSlots(1);
    assert.ok(slots.take('ann'));
    assert.ok(slots.take('bob'));
    assert.equal(slots.total, 2);
  });

  it('given a released slot, when the user asks again, then it is given back once', () => {
    const slots = new StreamSlots(1);
    const first = slots.take('ann');
    assert.ok(first);
    first.release();
    first.release();
    assert.equal(slots.total, 0);
    assert.ok(slots.take('ann'));
    assert.equal(slots.take('ann'), undefined, 'a second release did not free a second slot');
  });
});
