// Topics created for a test, a benchmark or the bootstrap are usable at once: every partition
// has a leader when createTopics resolves, and creating them again says nothing was created.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Admin, createTopics } from '../src/kafka.ts';
import { testKafka, uniqueName } from '../src/testing/fixtures.ts';

const kafka = testKafka();
const topics = [uniqueName('created'), uniqueName('created')];
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
});
after(async () => {
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
});

it('resolves once every partition of every topic has a leader', async () => {
  const created = await createTopics(
    admin,
    topics.map((topic) => ({ topic, numPartitions: 4 })),
  );
  assert.equal(created, true);
  const metadata = await admin.fetchTopicMetadata({ topics });
  assert.deepEqual(
    metadata.topics.map((t) => t.partitions.filter((p) => p.leader >= 0).length),
    [4, 4],
  );
  assert.equal(
    await createTopics(
      admin,
      topics.map((topic) => ({ topic, numPartitions: 4 })),
    ),
    false,
  );
});

it('refuses what the broker refuses, with its reason', async () => {
  await assert.rejects(
    createTopics(admin, [{ topic: uniqueName('bad'), numPartitions: -5 }]),
    (error: Error) => !/without a leader/.test(error.message),
  );
});
