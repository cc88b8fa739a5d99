/**
 * The decider pattern: a pure `decide(command, state) -> event drafts` and `evolve(state, event)`
 * per aggregate. This module stamps drafts into events (metadata from the command, versions
 * contiguous from the state's) and checks the client's expected version. No clock, no random
 * ids: time comes from the command, event ids are derived from the command id, so deciding the
 * same command twice yields byte-identical events.
 */

import { uuidFrom } from '@parley/platform/ids';
import type { CommandMetadata, EventMetadata } from '@parley/schemas/generated/records';
import { Forbidden, NotFound, VersionConflict } from './errors.ts';

/** What a decider returns: an event without its metadata. */
export type Draft<M> = { [K in keyof M]: { type: K; value: Omit<M[K], 'metadata'> } }[keyof M];
/** A stamped event, as it goes on Kafka. */
export type Stamped<M> = { [K in keyof M]: { type: K; value: M[K] } }[keyof M];
/** A command as it comes off Kafka. */
export type Envelope<M> = { [K in keyof M]: { type: K; value: M[K] } }[keyof M];

export interface Versioned {
  /** Version of the aggregate: the number of events it has; 0 before the first. */
  readonly version: number;
}

export interface Decider<CommandMap, EventMap, State extends Versioned> {
  readonly initialState: State;
  decide(command: Envelope<CommandMap>, state: State): Array<Draft<EventMap>>;
  evolve(state: State, event: Stamped<EventMap>): State;
}

/** The id of a command's index-th event: the same command always yields the same event ids. */
export function derivedEventId(commandId: string, index: number): string {
  return uuidFrom(`${commandId}:${index}`);
}

export function stamp<EventMap>(
  drafts: ReadonlyArray<Draft<EventMap>>,
  command: CommandMetadata,
  fromVersion: number,
): Array<Stamped<EventMap>> {
  return drafts.map((draft, index) => {
    const metadata: EventMetadata = {
      eventId: derivedEventId(command.commandId, index),
      aggregateId: command.aggregateId,
      aggregateVersion: fromVersion + index + 1,
      occurredAt: command.issuedAt,
      correlationId: command.correlationId,
      causationId: command.commandId,
      actor: command.actor,
      tenantId: command.tenantId,
    };
    return { type: draft.type, value: { metadata, ...draft.value } } as Stamped<EventMap>;
  });
}

export interface Decision<EventMap, State> {
  events: Array<Stamped<EventMap>>;
  state: State;
}

/**
 * Runs one command against a state: decides, checks If-Match, stamps and evolves. Whether the
 * actor may see the aggregate comes first: another user's resource is NotFound (or Forbidden)
 * whatever If-Match says, so a version conflict never tells a stranger that it exists or how
 * often it changed. Throws the decider's domain errors unchanged.
 */
export function runDecider<CommandMap, EventMap, State extends Versioned>(
  decider: Decider<CommandMap, EventMap, State>,
  command: Envelope<CommandMap>,
  state: State,
): Decision<EventMap, State> {
  const metadata = (command.value as { metadata: CommandMetadata }).metadata;
  let drafts: Array<Draft<EventMap>> = [];
  let refusal: unknown;
  try {
    drafts = decider.decide(command, state);
  } catch (error) {
    if (error instanceof NotFound || error instanceof Forbidden) throw error;
    refusal = error;
  }
  if (metadata.expectedVersion !== null && metadata.expectedVersion !== state.version) {
    throw new VersionConflict(
      `expected version ${metadata.expectedVersion}, but it is at ${state.version}`,
      {
        extensions: { currentVersion: state.version },
      },
    );
  }
  if (refusal !== undefined) throw refusal;
  const events = stamp(drafts, metadata, state.version);
  return { events, state: events.reduce(decider.evolve, state) };
}

/** The user id in an actor string `user:<uuid>`, or undefined for system actors. */
export function actorUserId(metadata: CommandMetadata): string | undefined {
  return metadata.actor.startsWith('user:') ? metadata.actor.slice('user:'.length) : undefined;
}

export function actorIsAdmin(metadata: CommandMetadata): boolean {
  return metadata.actorRoles.includes('admin');
}
