/**
 * Sends a command to its topic and waits, bounded, for its outcome. Kafka is called through a
 * timeout, a jittered retry and a circuit breaker: when Kafka is down the API answers 503 with
 * Retry-After at once instead of hanging. The producer is idempotent and every send is awaited.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '@parley/platform/errors';
import type { Producer } from '@parley/platform/kafka';
import type { CommandMetadata, RecordMap, RecordName } from '@parley/schemas/generated/records';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import type { Outcome } from '../outcomes/outcome.ts';
import type { OutcomeWaiter } from '../outcomes/outcome-waiter.ts';
import { uuidFrom } from '../shared/ids.ts';
import { commandRecord } from './command-record.ts';

export class KafkaUnavailable extends AppError {
  constructor(cause: unknown, retryAfterSeconds: number) {
    super('COMMANDS_UNAVAILABLE', 503, 'Commands cannot be accepted right now; retry shortly', {
      cause,
      extensions: { retryAfterSeconds },
    });
  }
}

export type Submitted =
  | { kind: 'outcome'; outcome: Outcome }
  | { kind: 'pending'; commandId: string };

export interface GatewayOptions {
  producer: Producer;
  serde: AvroSerde;
  waiter: OutcomeWaiter;
  topicOf: (type: RecordName) => string;
  /** How long a request waits for the outcome before answering 202. */
  outcomeWaitMs: number;
  sendTimeoutMs?: number;
}

/**
 * The command id: derived from the actor and the Idempotency-Key when there is one (so a retry is
 * the same command, which the processor answers once), random otherwise.
 */
export function commandIdFor(actor: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? uuidFrom(`command|${actor}|${idempotencyKey}`) : randomUUID();
}

export class CommandGateway {
  private readonly policy;
  readonly breaker;

  constructor(private readonly options: GatewayOptions) {
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new ConsecutiveBreaker(5),
    });
    this.policy = wrap(
      this.breaker,
      retry(handleAll, {
        maxAttempts: 2,
        backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }),
      }),
      timeout(options.sendTimeoutMs ?? 5_000, TimeoutStrategy.Aggressive),
    );
  }

  async submit<N extends RecordName>(
    type: N,
    value: RecordMap[N] & { metadata: CommandMetadata },
  ): Promise<Submitted> {
    const { commandId } = value.metadata;
    const record = await commandRecord(this.options.serde, type, value);
    const wait = this.options.waiter.expect(commandId);
    try {
      await this.policy.execute(() =>
        this.options.producer.send({
          topic: this.options.topicOf(type),
          acks: -1,
          messages: [record],
        }),
      );
    } catch (error) {
      void wait(0);
      const open = error instanceof BrokenCircuitError;
      throw new KafkaUnavailable(error, open || error instanceof TaskCancelledError ? 10 : 5);
    }
    const outcome = await wait(this.options.outcomeWaitMs);
    return outcome ? { kind: 'outcome', outcome } : { kind: 'pending', commandId };
  }
}
