/**
 * Sends a command to its topic and waits, bounded, for its outcome. Kafka is called through a
 * timeout, a jittered retry and a circuit breaker: when Kafka is down the API answers 503 with
 * Retry-After at once instead of hanging. The producer is idempotent and every send is awaited.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AppError, defineError } from '@parley/platform/errors';
import { uuidFrom } from '@parley/platform/ids';
import { Histogram, type Registry } from '@parley/platform/metrics';
import type { Guard } from '@parley/platform/resilience';
import type { SendBatcher } from '@parley/platform/send-batcher';
import type { CommandMetadata, RecordMap, RecordName } from '@parley/schemas/generated/records';
import { commandRecord } from '@parley/schemas/serde/command-record';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { Outcome } from '../outcomes/outcome.ts';
import type { OutcomeWaiter } from '../outcomes/outcome-waiter.ts';
import type { IdempotencyKeys } from './idempotency-keys.ts';

/** RFC draft "The Idempotency-Key HTTP Header Field": a key reused for another request is 422. */
export const IdempotencyKeyReused = defineError(
  'IDEMPOTENCY_KEY_REUSED',
  422,
  'This Idempotency-Key was already used for a different request',
);

/**
 * `command_duration_seconds{command, result, code}`: from the API taking a command to its outcome,
 * by command type and result (accepted, rejected with the problem code, pending: answered 202,
 * unavailable: Kafka refused by its guard), so ops see outcomes and latency per command.
 */
export function commandMetrics(registry: Registry) {
  return new Histogram({
    name: 'command_duration_seconds',
    help: 'From a command taken by the API to its outcome, by command type and result',
    labelNames: ['command', 'result', 'code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
}

export type Submitted =
  | { kind: 'outcome'; outcome: Outcome }
  | { kind: 'pending'; commandId: string };

export interface GatewayOptions {
  sender: SendBatcher;
  /** Timeout, retry and breaker around Kafka; refuses with 503 COMMANDS_UNAVAILABLE. */
  kafka: Guard;
  serde: AvroSerde;
  waiter: OutcomeWaiter;
  idempotencyKeys: IdempotencyKeys;
  topicOf: (type: RecordName) => string;
  /** How long a request waits for the outcome before answering 202. */
  outcomeWaitMs: number;
  durations: ReturnType<typeof commandMetrics>;
}

/**
 * The command id: derived from the actor and the Idempotency-Key when there is one (so a retry is
 * the same command, which the processor answers once), random otherwise.
 */
export function commandIdFor(actor: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? uuidFrom(`command|${actor}|${idempotencyKey}`) : randomUUID();
}

/** What makes two requests the same request: the command, its target and its fields. */
export function requestFingerprint(type: string, value: { metadata: CommandMetadata }): string {
  const { metadata, ...fields } = value;
  return createHash('sha256')
    .update(JSON.stringify([type, metadata.aggregateId, metadata.expectedVersion, fields]))
    .digest('base64url');
}

/**
 * Sends a command to its topic and waits, bounded, for its outcome. Sends go through a batcher
 * (one produce request for many concurrent commands) and a guard: when Kafka is down the API
 * answers 503 with Retry-After at once instead of hanging. Every send is awaited.
 */
export class CommandGateway {
  constructor(private readonly options: GatewayOptions) {}

  /** The serde commands are encoded with (shared with the API's own consumers). */
  get serde(): AvroSerde {
    return this.options.serde;
  }

  /**
   * `request` is what identifies the request for Idempotency-Key reuse when the command's own
   * fields cannot (encrypted text differs on every try): the fields as the client sent them.
   */
  async submit<N extends RecordName>(
    type: N,
    value: RecordMap[N] & { metadata: CommandMetadata },
    request?: Record<string, unknown>,
  ): Promise<Submitted> {
    const { commandId, idempotencyKey } = value.metadata;
    if (idempotencyKey) {
      const claim = await this.options.idempotencyKeys.claim(
        commandId,
        requestFingerprint(type, request ? { metadata: value.metadata, ...request } : value),
      );
      if (claim === 'reused') throw new IdempotencyKeyReused();
      if (claim === 'repeat') {
        // A retry of a command already answered: its outcome, without sending it again.
        const outcome = await this.options.waiter.published(commandId);
        if (outcome) return { kind: 'outcome', outcome };
      }
    }
    const started = performance.now();
    const observe = (result: string, code = '') =>
      this.options.durations.observe(
        { command: type, result, code },
        (performance.now() - started) / 1000,
      );
    const record = await commandRecord(this.options.serde, type, value);
    const topic = this.options.topicOf(type);
    if (!topic) throw new AppError('UNKNOWN_COMMAND', 500, `no topic for ${type}`);
    const wait = this.options.waiter.expect(commandId);
    try {
      await this.options.kafka((signal) => this.options.sender.send(topic, record, signal));
    } catch (error) {
      void wait(0);
      observe('unavailable', error instanceof AppError ? error.code : '');
      throw error;
    }
    const outcome = await wait(this.options.outcomeWaitMs);
    if (outcome) {
      observe(outcome.status, outcome.status === 'rejected' ? outcome.code : '');
      return { kind: 'outcome', outcome };
    }
    await this.options.waiter.notePending(commandId, value.metadata.actor);
    observe('pending');
    return { kind: 'pending', commandId };
  }
}
