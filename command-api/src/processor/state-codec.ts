/**
 * The aggregate-state changelog's value: the aggregate's state and its recent outcomes, as JSON.
 * Private to the command processor (like a Kafka Streams changelog), so it is not an Avro
 * contract; `format` lets a later version read older records. `fresh` counts the outcomes at the
 * end of `recent` that the record's own transaction decided: after a crash the new owner
 * republishes those of the partition's last records, which the old owner may not have published.
 */
import type { Outcome } from '../outcomes/outcome.ts';
import type { Aggregate } from './decide-batch.ts';

const FORMAT = 1;

export const STATE_CONTENT_TYPE = 'application/vnd.parley.aggregate-state+json';

export function encodeAggregate(aggregate: Aggregate<unknown>, fresh = 0): Buffer {
  return Buffer.from(
    JSON.stringify({ format: FORMAT, state: aggregate.state, recent: aggregate.recent, fresh }),
  );
}

export interface StateRecord<State> {
  readonly aggregate: Aggregate<State>;
  /** The outcomes this record's transaction decided. */
  readonly fresh: ReadonlyArray<Outcome>;
}

export function decodeAggregate<State>(value: Buffer): StateRecord<State> {
  const parsed = JSON.parse(value.toString('utf8')) as {
    format: number;
    state: State;
    recent: Aggregate<State>['recent'];
    fresh?: number;
  };
  if (parsed.format !== FORMAT) throw new Error(`unknown aggregate-state format ${parsed.format}`);
  const fresh = parsed.fresh ?? 0;
  return {
    aggregate: { state: parsed.state, recent: parsed.recent },
    fresh: fresh > 0 ? parsed.recent.slice(-fresh) : [],
  };
}
