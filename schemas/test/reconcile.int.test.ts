import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Admin, createTopics } from '@parley/platform/kafka';
import { testKafka, uniqueName } from '@parley/platform/testing/fixtures';
import type { TopicSpec } from '../src/topics/catalogue.ts';
import { reconcileTopics } from '../src/topics/reconcile.ts';

let admin: Admin;
const created: string[] = [];

before(async () => {
  admin = testKafka().admin();
  await admin.connect();
});

after(async () => {
  await admin.deleteTopics({ topics: created }).catch(() => {});
  await admin.disconnect();
});

function spec(name: string, partitions: number): TopicSpec {
  return {
    name,
    role: 'events',
    partitions,
    replicationFactor: 1,
    config: { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'min.insync.replicas': '1' },
  };
}

it('creates missing topics, leaves matching ones, reports and repairs drift', async () => {
  const fresh = uniqueName('reconcile-fresh');
  const drifted = uniqueName('reconcile-drifted');
  created.push(fresh, drifted);
  // A topic made by hand with the wrong partition count and retention.
  await createTopics(admin, [
    {
      topic: drifted,
      numPartitions: 2,
      configEntries: [{ name: 'retention.ms', value: '60000' }],
    },
  ]);

  const first = await reconcileTopics(admin, [spec(fresh, 3), spec(drifted, 3)]);
  assert.deepEqual(first.created, [fresh]);
  assert.deepEqual(first.drift.map((d) => `${d.topic}:${d.property}`).sort(), [
    `${drifted}:partitions`,
    `${drifted}:retention.ms`,
  ]);
  const metadata = await admin.fetchTopicMetadata({ topics: [fresh] });
  assert.equal(metadata.topics[0]?.partitions.length, 3);

  const repaired = await reconcileTopics(admin, [spec(fresh, 3), spec(drifted, 3)], {
    repairConfig: true,
  });
  assert.deepEqual(repaired.created, []);
  assert.deepEqual(
    repaired.repaired.map((d) => d.property),
    ['retention.ms'],
  );
  // Partition drift is never "repaired": adding partitions would move keys.
  assert.deepEqual(
    repaired.drift.map((d) => d.property),
    ['partitions'],
  );

  const third = await reconcileTopics(admin, [spec(fresh, 3), spec(drifted, 3)]);
  assert.deepEqual(
    third.drift.map((d) => d.property),
    ['partitions'],
  );
  assert.deepEqual(third.unchanged, [fresh]);
});
