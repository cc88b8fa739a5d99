import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadSchemaSet } from '../src/avro/schema-set.ts';
import { generateTypeScript } from '../src/avro/typescript.ts';

const set = loadSchemaSet();

describe('the schema set', () => {
  it('has every command and event of identity and chat, each on its context topic', () => {
    const events = set.records
      .filter((r) => r.kind === 'event')
      .map((r) => r.name)
      .sort();
    assert.deepEqual(events, [
      'AssistantReplyFailed',
      'AssistantReplyRecorded',
      'ConversationArchived',
      'ConversationDeleted',
      'ConversationRenamed',
      'ConversationStarted',
      'ReplyRegenerationRequested',
      'ReplyStopRequested',
      'UserDeactivated',
      'UserErased',
      'UserMessagePosted',
      'UserProfileUpdated',
      'UserRegistered',
      'UserRoleChanged',
    ]);
    assert.equal(set.records.filter((r) => r.kind === 'command').length, 15);
    assert.equal(set.byName('UserRegistered')?.topic, 'identity.user-events');
    assert.equal(set.byName('PostUserMessage')?.topic, 'chat.commands');
  });

  it('names subjects by topic and full record name', () => {
    assert.equal(
      set.byName('ConversationStarted')?.subject,
      'chat.conversation-events-dev.parley.chat.events.ConversationStarted',
    );
  });

  it('inlines shared types once, so every registered schema stands alone', () => {
    const schema = JSON.stringify(set.byName('UserRoleChanged')?.schema);
    assert.equal(schema.match(/"name":"Role"/g)?.length, 1, 'Role defined once');
    assert.match(schema, /"type":"dev.parley.identity.Role"/, 'then referred to by name');
    assert.match(schema, /"logicalType":"timestamp-millis"/);
    for (const record of set.records) {
      assert.equal(record.type.name, record.fullName);
      assert.ok(
        JSON.stringify(record.schema).includes('EventMetadata') !== (record.kind === 'command'),
      );
    }
  });

  it('marks personal data so encryption and redaction can find it', () => {
    assert.deepEqual(set.byName('UserRegistered')?.pii, [
      { path: 'email', kind: 'encrypted' },
      { path: 'displayName', kind: 'encrypted' },
    ]);
    assert.deepEqual(set.byName('UserMessagePosted')?.pii, [
      { path: 'text', kind: 'content' },
      { path: 'encryptedText', kind: 'encrypted' },
    ]);
    assert.deepEqual(set.byName('UserErased')?.pii, []);
  });

  it('gives every field of personal content an encrypted twin (ADR 0023)', () => {
    const lacking = set.records.flatMap((record) =>
      record.pii
        .filter((f) => f.kind === 'content')
        .filter((f) => {
          const twin = `encrypted${f.path.charAt(0).toUpperCase()}${f.path.slice(1)}`;
          return !record.pii.some((g) => g.kind === 'encrypted' && g.path === twin);
        })
        .map((f) => `${record.name}.${f.path}`),
    );
    assert.deepEqual(lacking, []);
    assert.ok(set.records.some((r) => r.pii.some((f) => f.kind === 'content')));
  });

  it('keeps src/generated/records.ts in step with the .avsc files (npm run schemas:generate)', () => {
    const committed = readFileSync(new URL('../src/generated/records.ts', import.meta.url), 'utf8');
    assert.equal(
      committed,
      generateTypeScript(set),
      'run `npm run schemas:generate` and commit the result',
    );
  });
});
