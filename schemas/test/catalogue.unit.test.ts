import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topicCatalogue } from '../src/topics/catalogue.ts';
import { topicDrift } from '../src/topics/reconcile.ts';

describe('topicCatalogue', () => {
  it('has commands, events and state topics per context, with the design names', () => {
    const names = topicCatalogue({ environment: 'dev', partitions: 12 }).map((t) => t.name);
    assert.deepEqual(names, [
      'identity.commands',
      'identity.user-events',
      'identity.aggregate-state',
      'chat.commands',
      'chat.conversation-events',
      'chat.aggregate-state',
    ]);
  });

  it('keeps events forever, commands 7 days, state compacted, dead letters 30 days', () => {
    const topics = topicCatalogue({
      environment: 'dev',
      partitions: 3,
      deadLetterGroups: ['users'],
    });
    const byName = new Map(topics.map((t) => [t.name, t]));
    assert.equal(byName.get('chat.conversation-events')?.config['retention.ms'], '-1');
    assert.equal(byName.get('chat.commands')?.config['retention.ms'], String(7 * 86_400_000));
    assert.equal(byName.get('chat.aggregate-state')?.config['cleanup.policy'], 'compact');
    assert.equal(byName.get('users.dlq')?.config['retention.ms'], String(30 * 86_400_000));
    assert.ok(topics.every((t) => t.partitions === 3));
  });

  it('replicates 3 ways with min.insync.replicas 2 in stage and prod, 1 locally', () => {
    for (const environment of ['stage', 'prod'] as const) {
      for (const t of topicCatalogue({ environment, partitions: 12 })) {
        assert.equal(t.replicationFactor, 3);
        assert.equal(t.config['min.insync.replicas'], '2');
      }
    }
    for (const t of topicCatalogue({ environment: 'dev', partitions: 12 })) {
      assert.equal(t.replicationFactor, 1);
      assert.equal(t.config['min.insync.replicas'], '1');
    }
  });
});

describe('topicDrift', () => {
  const [spec] = topicCatalogue({ environment: 'dev', partitions: 12 });
  assert.ok(spec);

  it('finds nothing when the topic matches', () => {
    assert.deepEqual(
      topicDrift(spec, { partitions: 12, replicationFactor: 1, config: { ...spec.config } }),
      [],
    );
  });

  it('reports partitions, replication and each config that differs', () => {
    const drift = topicDrift(spec, {
      partitions: 6,
      replicationFactor: 1,
      config: { ...spec.config, 'retention.ms': '1000', 'cleanup.policy': undefined },
    });
    assert.deepEqual(
      drift.map((d) => `${d.property}:${d.actual}->${d.expected}`),
      ['partitions:6->12', 'cleanup.policy:(unset)->delete', 'retention.ms:1000->604800000'],
    );
  });
});
