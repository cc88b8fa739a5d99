/**
 * Given/when/then for projections, like the deciders' specs: given the read model's state (what
 * the writer would load), when these events, then these writes. Events are built typed from the
 * Avro-generated records; each aggregate's history numbers its versions 1, 2, 3...
 * Test support only: not part of the build.
 */
import assert from 'node:assert/strict';
import {
  type ChatEventMap,
  type EncryptedText,
  type EventMetadata,
  type IdentityEventMap,
  identityEventTypes,
} from '@parley/schemas/generated/records';
import { CONTEXTS, topicNames } from '@parley/schemas/topics/catalogue';
import type { ProjectedEvent } from '../runtime/projection.ts';

type EventMap = ChatEventMap & IdentityEventMap;
type EventType = keyof EventMap;
type Fields<K extends EventType> = Omit<EventMap[K], 'metadata'>;

/** When every spec's first event happened: 2026-11-24 12:00 UTC. */
export const T0 = Date.UTC(2026, 10, 24, 12);
export const MINUTE = 60_000;

export const ids = {
  alice: '11111111-1111-4111-8111-111111111111',
  bob: '22222222-2222-4222-8222-222222222222',
  chat1: '44444444-4444-4444-8444-444444444444',
  chat2: '55555555-5555-4555-8555-555555555555',
  chat3: '99999999-9999-4999-8999-999999999999',
  chat4: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  message1: '66666666-6666-4666-8666-666666666666',
  message2: '77777777-7777-4777-8777-777777777777',
  reply1: '88888888-8888-4888-8888-888888888888',
};

/**
 * A stand-in for text encrypted under a data key (folds never open it; the specs decide what it
 * opens to).
 */
export const sealedText = (text: string, keyId = 'key-1'): EncryptedText => ({
  keyId,
  nonce: Buffer.alloc(12),
  ciphertext: Buffer.from(text),
});

const topicOf = (contextName: string) => {
  const context = CONTEXTS.find((c) => c.name === contextName);
  return context ? topicNames.events(context) : contextName;
};
const IDENTITY_EVENTS: ReadonlySet<string> = new Set(identityEventTypes);

/**
 * An aggregate's events, one call per event: versions count from `from + 1`, each a minute after
 * the one before unless `at` says when.
 */
export function history(aggregateId: string, from = 0) {
  let version = from;
  return <K extends EventType>(
    type: K,
    fields: Fields<K>,
    metadata: Partial<EventMetadata> = {},
  ): ProjectedEvent => {
    version += 1;
    const value = {
      metadata: {
        eventId: `${aggregateId.slice(0, 8)}-event-${version}`,
        aggregateId,
        aggregateVersion: version,
        occurredAt: T0 + (version - 1) * MINUTE,
        correlationId: 'corr-1',
        causationId: 'cause-1',
        actor: 'system:spec',
        tenantId: null,
        ...metadata,
      },
      ...fields,
    };
    // The one place the type tag and the value are joined: K ties them, TS cannot see it.
    return {
      topic: topicOf(IDENTITY_EVENTS.has(type) ? 'identity' : 'chat'),
      partition: 0,
      offset: String(version - 1),
      type,
      value,
    } as ProjectedEvent;
  };
}

/** Given a state, when events, then what the fold gives (compared deeply). */
export function specFor<S, W>(fold: (state: S, events: readonly ProjectedEvent[]) => W) {
  return {
    given(state: S) {
      return {
        when(...events: ProjectedEvent[]) {
          return {
            thenWrites(expected: W): W {
              const actual = fold(state, events);
              assert.deepEqual(actual, expected);
              return actual;
            },
          };
        },
      };
    },
  };
}
