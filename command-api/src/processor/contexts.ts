/**
 * The contexts the command processor serves: for each, its decider, its topics, and the command
 * types its schemas define. Adding a context is adding its decider here.
 */

import type { SchemaSet } from '@parley/schemas/avro/schema-set';
import type { CommandMetadata, EventMetadata } from '@parley/schemas/generated/records';
import { type BoundedContext, CONTEXTS, topicNames } from '@parley/schemas/topics/catalogue';
import { conversationDecider } from '../chat/decide.ts';
import { userDecider } from '../identity/decide.ts';
import type { Decider, Versioned } from '../shared/decider.ts';

/** A decider seen from the processor, which only moves its records between Kafka and it. */
export type AnyDecider = Decider<
  Record<string, { metadata: CommandMetadata }>,
  Record<string, { metadata: EventMetadata }>,
  Versioned
>;

const DECIDERS: Record<string, AnyDecider> = {
  identity: userDecider as unknown as AnyDecider,
  chat: conversationDecider as unknown as AnyDecider,
};

export interface ProcessorContext {
  readonly context: BoundedContext;
  readonly decider: AnyDecider;
  readonly commandTopic: string;
  readonly eventsTopic: string;
  readonly stateTopic: string;
  readonly commandTypes: ReadonlySet<string>;
}

/** `names` can be replaced in tests, which run the processor on topics of their own. */
export function processorContexts(
  schemas: SchemaSet,
  names: typeof topicNames = topicNames,
): ProcessorContext[] {
  return CONTEXTS.map((context) => {
    const decider = DECIDERS[context.name];
    if (!decider) throw new Error(`no decider for context '${context.name}'`);
    return {
      context,
      decider,
      commandTopic: names.commands(context),
      eventsTopic: names.events(context),
      stateTopic: names.aggregateState(context),
      commandTypes: new Set(
        schemas.records
          .filter((r) => r.context === context.name && r.kind === 'command')
          .map((r) => r.name),
      ),
    };
  });
}
