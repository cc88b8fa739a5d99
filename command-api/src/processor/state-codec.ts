/**
 * The aggregate-state changelog's value: the aggregate's state and its recent outcomes, as JSON.
 * Private to the command processor (like a Kafka Streams changelog), so it is not an Avro
 * contract; `format` lets a later version read older records.
 */
import type { Aggregate } from './decide-batch.ts';

const FORMAT = 1;

export const STATE_CONTENT_TYPE = 'application/vnd.parley.aggregate-state+json';

export function encodeAggregate(aggregate: Aggregate<unknown>): Buffer {
  return Buffer.from(
    JSON.stringify({ format: FORMAT, state: aggregate.state, recent: aggregate.recent }),
  );
}

export function decodeAggregate<State>(value: Buffer): Aggregate<State> {
  const parsed = JSON.parse(value.toString('utf8')) as {
    format: number;
    state: State;
    recent: Aggregate<State>['recent'];
  };
  if (parsed.format !== FORMAT) throw new Error(`unknown aggregate-state format ${parsed.format}`);
  return { state: parsed.state, recent: parsed.recent };
}
