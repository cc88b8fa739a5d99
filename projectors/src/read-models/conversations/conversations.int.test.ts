import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { history } from '../spec.ts';
import { writerFixture } from '../writer-fixture.ts';
import { collections, conversationsProjection } from './projection.ts';

let fixture: Awaited<ReturnType<typeof writerFixture>>;
before(async () => {
  fixture = await writerFixture(conversationsProjection);
});
after(() => fixture?.close());

describe('conversations read model on the MongoDB-wire server', () => {
  it('writes the conversation and its messages decrypted; a replayed batch changes nothing; a deletion leaves a tombstone', async () => {
    const { cipher } = fixture.stores;
    const owner = randomUUID();
    const id = randomUUID();
    const chat = history(id);
    const batch = [
      chat('ConversationStarted', {
        ownerId: owner,
        title: '',
        encryptedTitle: await cipher.encrypt(owner, 'Lisbon'),
      }),
      chat('UserMessagePosted', {
        messageId: randomUUID(),
        authorId: owner,
        text: '',
        encryptedText: await cipher.encrypt(owner, 'Where to eat?'),
      }),
    ];
    await fixture.apply(batch);
    const { conversations, messages } = collections(fixture.stores, fixture.generation);
    const doc = await conversations.findOne({ _id: id });
    assert.equal(doc?.title, 'Lisbon');
    assert.equal(doc?.lastMessage?.preview, 'Where to eat?');
    assert.equal(await messages.countDocuments({ conversationId: id }), 1);

    const before = await fixture.checksum();
    await fixture.apply(batch);
    assert.equal(await fixture.checksum(), before);

    await fixture.apply([chat('ConversationDeleted', {})]);
    const tombstone = await conversations.findOne({ _id: id });
    assert.deepEqual(
      [tombstone?.status, tombstone?.title, tombstone?.version],
      ['deleted', undefined, 3],
    );
    assert.equal(await messages.countDocuments({ conversationId: id }), 0);
  });

  it('erases an owner’s conversations when their UserErased arrives', async () => {
    const owner = randomUUID();
    const id = randomUUID();
    const chat = history(id);
    await fixture.apply([
      chat('ConversationStarted', { ownerId: owner, title: 'Plain', encryptedTitle: null }),
      chat('UserMessagePosted', {
        messageId: randomUUID(),
        authorId: owner,
        text: 'plain text from before ADR 0023',
        encryptedText: null,
      }),
    ]);
    await fixture.apply([history(owner, 3)('UserErased', {})]);
    const { conversations, messages } = collections(fixture.stores, fixture.generation);
    const doc = await conversations.findOne({ _id: id });
    assert.equal(doc?.status, 'erased');
    assert.equal(doc?.title, undefined);
    assert.equal(await messages.countDocuments({ ownerId: owner }), 0);
  });
});
