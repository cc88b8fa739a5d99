/**
 * The pure heart of the command processor: a batch of commands for one partition, the cached
 * aggregates, and out come the events to append, the new aggregate states, and each command's
 * outcome. A command id seen before (a client retry, or a record re-sent after a crash) gets its
 * first outcome again and writes nothing: the aggregate remembers its last commands' outcomes, and
 * the caller passes the outcomes already published for this batch's command ids (from Redis, kept
 * 24 hours), which covers retries older than the aggregate's memory.
 */
import { AppError } from '@parley/platform/errors';
import type { Outcome } from '../outcomes/outcome.ts';
import {
  type Decider,
  type Envelope,
  runDecider,
  type Stamped,
  type Versioned,
} from '../shared/decider.ts';

/** How many recent command outcomes an aggregate remembers for deduplication. */
export const REMEMBERED_COMMANDS = 64;

export interface Aggregate<State> {
  readonly state: State;
  /** Outcomes of the aggregate's most recent commands, oldest first. */
  readonly recent: ReadonlyArray<Outcome>;
}

export interface PendingEvent<EventMap> {
  readonly aggregateId: string;
  readonly commandId: string;
  readonly event: Stamped<EventMap>;
}

export interface BatchDecision<EventMap, State> {
  /** Events in decision order, to append in this order. */
  readonly events: ReadonlyArray<PendingEvent<EventMap>>;
  /** The new aggregates, once per aggregate touched. */
  readonly aggregates: ReadonlyMap<string, Aggregate<State>>;
  /** One per command, in order; accepted positions are filled in after the append. */
  readonly outcomes: ReadonlyArray<Outcome>;
  /** Ids of the commands decided in this batch (not answered from memory). */
  readonly decided: ReadonlySet<string>;
}

function metadataOf(command: { value: unknown }) {
  return (command.value as { metadata: { commandId: string; aggregateId: string; actor: string } })
    .metadata;
}

function remember<State>(
  aggregate: Aggregate<State>,
  state: State,
  outcome: Outcome,
): Aggregate<State> {
  return { state, recent: [...aggregate.recent, outcome].slice(-REMEMBERED_COMMANDS) };
}

export function decideBatch<CommandMap, EventMap, State extends Versioned>(
  decider: Decider<CommandMap, EventMap, State>,
  lookup: (aggregateId: string) => Aggregate<State> | undefined,
  commands: ReadonlyArray<Envelope<CommandMap>>,
  published: ReadonlyMap<string, Outcome> = new Map(),
): BatchDecision<EventMap, State> {
  const touched = new Map<string, Aggregate<State>>();
  const events: Array<PendingEvent<EventMap>> = [];
  const outcomes: Outcome[] = [];
  const decided = new Set<string>();

  for (const command of commands) {
    const { commandId, aggregateId, actor } = metadataOf(command);
    const aggregate = touched.get(aggregateId) ??
      lookup(aggregateId) ?? { state: decider.initialState, recent: [] };
    const seen =
      aggregate.recent.find((o) => o.commandId === commandId) ??
      sameTarget(published.get(commandId), aggregateId);
    if (seen) {
      outcomes.push(seen);
      continue;
    }
    let outcome: Outcome;
    let state = aggregate.state;
    try {
      const decision = runDecider(decider, command, aggregate.state);
      state = decision.state;
      for (const event of decision.events) events.push({ aggregateId, commandId, event });
      outcome = {
        status: 'accepted',
        commandId,
        actor,
        aggregateId,
        version: state.version,
        position: null,
      };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      outcome = {
        status: 'rejected',
        commandId,
        actor,
        aggregateId,
        code: error.code,
        httpStatus: error.status,
        detail: error.message,
        extensions: error.extensions,
      };
    }
    touched.set(aggregateId, remember(aggregate, state, outcome));
    outcomes.push(outcome);
    decided.add(commandId);
  }
  return { events, aggregates: touched, outcomes, decided };
}

/** A published outcome answers a command only if it was for the same aggregate. */
function sameTarget(outcome: Outcome | undefined, aggregateId: string): Outcome | undefined {
  return outcome?.aggregateId === aggregateId ? outcome : undefined;
}

/**
 * Puts the log position of each accepted command's last event into its outcome, in the outcome
 * list and in the aggregates' memory of recent outcomes (so a duplicate gets the position too).
 */
export function withPositions<EventMap, State>(
  decision: BatchDecision<EventMap, State>,
  positions: ReadonlyMap<string, string>,
): BatchDecision<EventMap, State> {
  const fill = (outcome: Outcome): Outcome =>
    outcome.status === 'accepted' && outcome.position === null && positions.has(outcome.commandId)
      ? { ...outcome, position: positions.get(outcome.commandId) ?? null }
      : outcome;
  const aggregates = new Map(
    [...decision.aggregates].map(([id, aggregate]) => [
      id,
      { ...aggregate, recent: aggregate.recent.map(fill) },
    ]),
  );
  return {
    events: decision.events,
    aggregates,
    outcomes: decision.outcomes.map(fill),
    decided: decision.decided,
  };
}
