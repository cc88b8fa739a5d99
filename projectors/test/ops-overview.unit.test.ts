import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartitionLag } from '@parley/platform/consumer-lag';
import { breakersIn } from '../src/ops/fleet.ts';
import { deadLettersWaiting, groupViews, rebuildsInProgress } from '../src/ops/overview.ts';

const lag = (
  group: string,
  topic: string,
  partition: number,
  head: number,
  events: number,
  seconds = 0,
): PartitionLag => ({
  group,
  topic,
  partition,
  head,
  events,
  seconds,
});

const states = new Map([
  ['projector.users.g1', { group: 'projector.users.g1', state: 'Stable', members: 1 }],
  ['projector.users.g2', { group: 'projector.users.g2', state: 'Empty', members: 0 }],
]);

describe('the ops overview', () => {
  it('given partitions of two groups, when summed, then each group has its total and its oldest lag', () => {
    const views = groupViews(
      [
        lag('projector.users.g1', 'identity.user-events', 1, 10, 2, 1.26),
        lag('projector.users.g1', 'identity.user-events', 0, 10, 3, 4.04),
        lag('command-processor', 'chat.commands', 0, 5, 0),
      ],
      states,
    );
    assert.deepEqual(
      views.map((v) => [v.group, v.state, v.members, v.lagEvents, v.lagSeconds]),
      [
        ['command-processor', 'Unknown', 0, 0, 0],
        ['projector.users.g1', 'Stable', 1, 5, 4],
      ],
    );
    assert.deepEqual(
      views[1]?.partitions.map((p) => [p.partition, p.lagEvents, p.lagSeconds]),
      [
        [0, 3, 4],
        [1, 2, 1.3],
      ],
    );
  });

  it('given a redrive group behind on its dead-letter topic, then that many dead letters wait', () => {
    const waiting = deadLettersWaiting(
      [
        { projection: 'users', group: 'projector.users.redrive', topic: 'projector.users.dlq' },
        { projection: 'views', group: 'projector.views.redrive', topic: 'projector.views.dlq' },
      ],
      [
        lag('projector.users.redrive', 'projector.users.dlq', 0, 4, 2),
        lag('projector.users.redrive', 'projector.users.dlq', 1, 1, 1),
        // Another group on the same topic counts for nothing.
        lag('dlq-reader', 'projector.users.dlq', 0, 4, 4),
      ],
    );
    assert.deepEqual(
      waiting.map((w) => [w.projection, w.waiting]),
      [
        ['users', 3],
        ['views', 0],
      ],
    );
  });

  it('given a build read to 3/4 of the heads with nobody in its group, then 75% and not running', () => {
    const [view] = rebuildsInProgress(
      [
        {
          projection: 'users',
          generation: 2,
          startedAt: '2026-12-01T00:00:00.000Z',
          group: 'projector.users.g2',
        },
      ],
      [
        lag('projector.users.g2', 'identity.user-events', 0, 60, 20),
        lag('projector.users.g2', 'identity.user-events', 1, 20, 0),
        lag('projector.users.g1', 'identity.user-events', 0, 60, 0),
      ],
      states,
    );
    assert.equal(view?.progress, 0.75);
    assert.equal(view?.remainingEvents, 20);
    assert.equal(view?.running, false);
  });

  it('reads breaker states from a metrics exposition, whatever the label order', () => {
    const exposition = [
      '# HELP circuit_breaker_state The circuit breaker around a dependency',
      '# TYPE circuit_breaker_state gauge',
      'circuit_breaker_state{dependency="redis",service="command-api"} 1',
      'circuit_breaker_state{service="command-api",dependency="kafka"} 0',
      'circuit_breaker_state{dependency="model"} 0.5',
      'circuit_breaker_states_other{dependency="x"} 1',
      'http_requests_total{dependency="postgres"} 3',
    ].join('\n');
    assert.deepEqual(breakersIn(exposition), [
      { dependency: 'kafka', state: 'closed' },
      { dependency: 'model', state: 'half-open' },
      { dependency: 'redis', state: 'open' },
    ]);
  });
});
