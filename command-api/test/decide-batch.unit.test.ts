import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConversationState } from '../src/chat/conversation.ts';
import { type ConversationCommand, conversationDecider } from '../src/chat/decide.ts';
import {
  type Aggregate,
  decideBatch,
  REMEMBERED_COMMANDS,
  withPositions,
} from '../src/processor/decide-batch.ts';
import { decodeAggregate, encodeAggregate } from '../src/processor/state-codec.ts';
import { ids, metadata } from './decider-spec.ts';

let n = 0;
const commandId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
const start = (id = commandId()): ConversationCommand => ({
  type: 'StartConversation',
  value: { metadata: metadata({ commandId: id }), title: 'Hello', encryptedTitle: null },
});
const post = (
  text: string,
  id = commandId(),
  aggregateId = ids.aggregate,
): ConversationCommand => ({
  type: 'PostUserMessage',
  value: {
    metadata: metadata({ commandId: id, aggregateId }),
    messageId: ids.message,
    text,
    encryptedText: null,
  },
});
const none = () => undefined;

describe('decideBatch', () => {
  it('decides commands in order, with contiguous versions per aggregate', () => {
    const decision = decideBatch(conversationDecider, none, [start(), post('a'), post('b')]);
    assert.deepEqual(
      decision.events.map((e) => [e.event.type, e.event.value.metadata.aggregateVersion]),
      [
        ['ConversationStarted', 1],
        ['UserMessagePosted', 2],
        ['UserMessagePosted', 3],
      ],
    );
    assert.deepEqual(
      decision.outcomes.map((o) => o.status === 'accepted' && o.version),
      [1, 2, 3],
    );
    assert.equal(decision.aggregates.get(ids.aggregate)?.state.version, 3);
  });

  it('rejects a command that breaks a rule and goes on with the next', () => {
    const decision = decideBatch(conversationDecider, none, [
      post('too early'),
      start(),
      post('  '),
      post('ok'),
    ]);
    assert.deepEqual(
      decision.outcomes.map((o) =>
        o.status === 'accepted' ? o.version : `${o.httpStatus} ${o.code}`,
      ),
      ['404 NOT_FOUND', 1, '422 RULE_VIOLATION', 2],
    );
    assert.equal(decision.events.length, 2);
  });

  it('answers a repeated command id with its first outcome and no new event, within and across batches', () => {
    const id = commandId();
    const first = decideBatch(conversationDecider, none, [
      start(),
      post('once', id),
      post('once', id),
    ]);
    assert.equal(first.events.length, 2);
    assert.deepEqual(first.outcomes[2], first.outcomes[1]);

    const cached = first.aggregates.get(ids.aggregate);
    const again = decideBatch(conversationDecider, () => cached, [post('once', id)]);
    assert.equal(again.events.length, 0);
    assert.deepEqual(again.outcomes[0], first.outcomes[1]);
  });

  it('remembers a bounded number of recent outcomes', () => {
    const commands = [
      start(),
      ...Array.from({ length: REMEMBERED_COMMANDS + 5 }, (_, i) => post(`m${i}`)),
    ];
    const aggregate = decideBatch(conversationDecider, none, commands).aggregates.get(
      ids.aggregate,
    );
    assert.equal(aggregate?.recent.length, REMEMBERED_COMMANDS);
  });

  it('answers a command older than the memory from its published outcome, writing nothing', () => {
    const old = commandId();
    const first = decideBatch(conversationDecider, none, [start(), post('old', old)]);
    const busy = decideBatch(
      conversationDecider,
      () => first.aggregates.get(ids.aggregate),
      Array.from({ length: REMEMBERED_COMMANDS + 1 }, (_, i) => post(`m${i}`)),
    );
    const aggregate = busy.aggregates.get(ids.aggregate);
    assert.ok(aggregate && !aggregate.recent.some((o) => o.commandId === old));

    const forgotten = decideBatch(conversationDecider, () => aggregate, [post('old', old)]);
    assert.equal(forgotten.events.length, 1, 'without the published outcome it is decided again');

    const published = new Map([[old, first.outcomes[1] as (typeof first.outcomes)[number]]]);
    const retried = decideBatch(
      conversationDecider,
      () => aggregate,
      [post('old', old)],
      published,
    );
    assert.equal(retried.events.length, 0);
    assert.deepEqual(retried.outcomes[0], first.outcomes[1]);
    assert.equal(retried.decided.size, 0);
  });

  it('ignores a published outcome that belongs to another aggregate', () => {
    const id = commandId();
    const foreign = new Map([
      [
        id,
        {
          status: 'accepted' as const,
          commandId: id,
          actor: `user:${ids.owner}`,
          aggregateId: '77777777-7777-4777-8777-777777777777',
          version: 9,
          position: null,
        },
      ],
    ]);
    const decision = decideBatch(conversationDecider, none, [start(id)], foreign);
    assert.equal(decision.events.length, 1);
    assert.deepEqual([...decision.decided], [id]);
  });

  it('keeps in the state record which outcomes its own transaction decided', () => {
    const repeated = commandId();
    const earlier = decideBatch(conversationDecider, none, [start(), post('a', repeated)]);
    const decision = decideBatch(conversationDecider, () => earlier.aggregates.get(ids.aggregate), [
      post('a', repeated),
      post('b'),
      post('c'),
    ]);
    const aggregate = decision.aggregates.get(ids.aggregate) as Aggregate<ConversationState>;
    const fresh = aggregate.recent.filter((o) => decision.decided.has(o.commandId)).length;
    const record = decodeAggregate<ConversationState>(encodeAggregate(aggregate, fresh));
    assert.deepEqual(record.aggregate, aggregate);
    assert.deepEqual(
      record.fresh.map((o) => o.commandId),
      decision.outcomes.slice(1).map((o) => o.commandId),
    );
    assert.deepEqual(decodeAggregate(encodeAggregate(aggregate)).fresh, []);
  });

  it('keeps aggregates apart', () => {
    const other = '77777777-7777-4777-8777-777777777777';
    const decision = decideBatch(conversationDecider, none, [
      start(),
      {
        type: 'StartConversation',
        value: {
          metadata: metadata({ commandId: commandId(), aggregateId: other }),
          title: 'Other',
          encryptedTitle: null,
        },
      },
      post('x', commandId(), other),
    ]);
    assert.equal(decision.aggregates.get(ids.aggregate)?.state.version, 1);
    assert.equal(decision.aggregates.get(other)?.state.version, 2);
  });

  it('fills in log positions, also in the remembered outcomes', () => {
    const id = commandId();
    const decision = decideBatch(conversationDecider, none, [start(id)]);
    const placed = withPositions(decision, new Map([[id, 'chat.conversation-events:3:41']]));
    const outcome = placed.outcomes[0];
    assert.equal(
      outcome?.status === 'accepted' && outcome.position,
      'chat.conversation-events:3:41',
    );
    const remembered = (placed.aggregates.get(ids.aggregate) as Aggregate<ConversationState>)
      .recent[0];
    assert.deepEqual(remembered, outcome);
  });
});
