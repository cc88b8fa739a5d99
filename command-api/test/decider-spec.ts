/**
 * Given/when/then for deciders: given past events (as drafts, stamped here with versions 1..n),
 * when a command, then the new events (as drafts) or an error: `thenEvents` / `thenThrows`
 * (not `then`, which would make the object look like a promise).
 */
import assert from 'node:assert/strict';
import type { CommandMetadata } from '@parley/schemas/generated/records';
import {
  type Decider,
  type Draft,
  type Envelope,
  runDecider,
  stamp,
  type Versioned,
} from '../src/shared/decider.ts';

export const ids = {
  owner: '11111111-1111-4111-8111-111111111111',
  other: '22222222-2222-4222-8222-222222222222',
  admin: '33333333-3333-4333-8333-333333333333',
  aggregate: '44444444-4444-4444-8444-444444444444',
  message: '55555555-5555-4555-8555-555555555555',
  message2: '66666666-6666-4666-8666-666666666666',
};

export function metadata(overrides: Partial<CommandMetadata> = {}): CommandMetadata {
  return {
    commandId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    aggregateId: ids.aggregate,
    issuedAt: Date.UTC(2026, 10, 24, 12),
    correlationId: 'corr-1',
    actor: `user:${ids.owner}`,
    actorRoles: ['user'],
    expectedVersion: null,
    idempotencyKey: null,
    tenantId: null,
    ...overrides,
  };
}

export function specFor<C, E, S extends Versioned>(decider: Decider<C, E, S>) {
  return {
    given(history: Array<Draft<E>>) {
      const events = history.flatMap((draft, i) =>
        stamp(
          [draft],
          metadata({ commandId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }),
          i,
        ),
      );
      const state = events.reduce(decider.evolve, decider.initialState);
      assert.equal(state.version, history.length, 'given events set the version');
      return {
        when(command: Envelope<C>) {
          const run = () => runDecider(decider, command, state);
          return {
            thenEvents(expected: Array<Draft<E>>) {
              const { events: produced, state: next } = run();
              assert.deepEqual(
                produced.map((e) => {
                  const { metadata: _, ...value } = e.value as { metadata: unknown };
                  return { type: e.type, value };
                }),
                expected,
              );
              produced.forEach((e, i) => {
                const m = (
                  e.value as { metadata: { aggregateVersion: number; causationId: string } }
                ).metadata;
                assert.equal(m.aggregateVersion, history.length + i + 1, 'versions are contiguous');
              });
              assert.equal(next.version, history.length + expected.length);
              return next;
            },
            thenThrows(error: new (...args: never[]) => Error, message?: RegExp) {
              assert.throws(run, (thrown: unknown) => {
                assert.ok(thrown instanceof error, `expected ${error.name}, got ${String(thrown)}`);
                if (message) assert.match((thrown as Error).message, message);
                return true;
              });
            },
          };
        },
      };
    },
  };
}
