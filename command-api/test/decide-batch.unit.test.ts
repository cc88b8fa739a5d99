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
import { ids, metadata } from './decider-spec.ts';

let n = 0;
const commandId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
const start = (id = commandId()): ConversationCommand => ({
  type: 'StartConversation',
  value: { metadata: metadata({ commandId: id }), title: 'Hello' },
});
const post = (
  text: string,
  id = commandId(),
  aggregateId = ids.aggregate,
): ConversationCommand => ({
  type: 'PostUserMessage',
  value: { metadata: metadata({ commandId: id, aggregateId }), messageId: ids.message, text },
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

  it('keeps aggregates apart', () => {
    const other = '77777777-7777-4777-8777-777777777777';
    const decision = decideBatch(conversationDecider, none, [
      start(),
      {
        type: 'StartConversation',
        value: {
          metadata: metadata({ commandId: commandId(), aggregateId: other }),
          title: 'Other',
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
