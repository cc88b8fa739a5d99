import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionProgress } from '../src/partition-progress.ts';

describe('the commit point of a partition worked on out of order', () => {
  it('given events handed out, when later ones finish first, then it stays at the first not done', () => {
    const p = new PartitionProgress();
    for (const offset of [10, 11, 12]) p.add(offset);
    p.seen(12);
    assert.equal(p.commitPoint(), 10);
    p.done(12);
    p.done(11);
    assert.equal(p.commitPoint(), 10, 'the first is still being worked on');
    assert.equal(p.working, 1);
    p.done(10);
    assert.equal(p.commitPoint(), 13, 'all done: past the batch');
    assert.equal(p.working, 0);
  });

  it('given a batch ending in a transaction marker, when all is done, then it commits past the marker', () => {
    const p = new PartitionProgress();
    p.add(4);
    p.seen(5);
    p.done(4);
    assert.equal(p.commitPoint(), 6);
  });

  it('given nothing seen yet, then there is nothing to commit', () => {
    assert.equal(new PartitionProgress().commitPoint(), undefined);
  });
});
