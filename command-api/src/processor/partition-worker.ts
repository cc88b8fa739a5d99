/**
 * The single writer of one command partition: its transactional producer (transactional id per
 * input partition, so a new owner fences the old one), the aggregates of that partition in
 * memory, and the step that turns a batch of command records into ONE Kafka transaction holding
 * the events, the new aggregate states and the consumed offset.
 */
import {
  CompressionTypes,
  createProducer,
  type Kafka,
  type KafkaMessage,
  type Producer,
  retryConcurrentTransactions,
} from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import {
  type Context,
  context,
  contextFrom,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
} from '@parley/platform/tracing';
import type { CommandMetadata, EventMetadata } from '@parley/schemas/generated/records';
import { SerdeError } from '@parley/schemas/serde/errors';
import { readHeaders, writeHeaders } from '@parley/schemas/serde/headers';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { Outcome } from '../outcomes/outcome.ts';
import type { Envelope, Versioned } from '../shared/decider.ts';
import type { ProcessorContext } from './contexts.ts';
import { type Aggregate, type BatchDecision, decideBatch, withPositions } from './decide-batch.ts';
import { MARKER_PREFIX, markerKey } from './restore.ts';
import { decodeAggregate, encodeAggregate, STATE_CONTENT_TYPE } from './state-codec.ts';

type AnyCommand = Envelope<Record<string, { metadata: CommandMetadata }>>;
type AnyDecision = BatchDecision<Record<string, { metadata: EventMetadata }>, Versioned>;

export interface WorkerOptions {
  kafka: Kafka;
  serde: AvroSerde;
  groupId: string;
  log: Logger;
  /** The outcomes already published for these command ids (empty when they cannot be read). */
  publishedOutcomes: (commandIds: readonly string[]) => Promise<ReadonlyMap<string, Outcome>>;
  transactionTimeoutMs?: number;
}

/**
 * How many of a partition's last state records a new owner republishes the fresh outcomes of:
 * the previous owner publishes after each commit, so only its last transactions (50 commands
 * each at most) can have outcomes that never reached Redis.
 */
export const REPUBLISHED_STATE_RECORDS = 500;

export class PartitionWorker {
  readonly transactionalId: string;
  private producer: Producer | undefined;
  private readonly aggregates = new Map<string, Aggregate<Versioned>>();
  private restoredTail: Array<readonly Outcome[]> = [];

  constructor(
    readonly context: ProcessorContext,
    readonly partition: number,
    private readonly options: WorkerOptions,
  ) {
    this.transactionalId = `${options.groupId}.${context.commandTopic}.${partition}`;
  }

  /** Connects the transactional producer; this fences any previous owner of the partition. */
  async start(): Promise<void> {
    this.producer = createProducer(this.options.kafka, {
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs ?? 30_000,
    });
    await this.producer.connect();
  }

  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.aggregates.clear();
    this.restoredTail = [];
    await producer?.disconnect().catch(() => {});
  }

  /** Commits a restore marker to this partition of the state topic and returns its key. */
  async commitMarker(): Promise<string> {
    const key = markerKey();
    const transaction = await this.requireProducer().transaction();
    try {
      await transaction.send({
        topic: this.context.stateTopic,
        messages: [{ key, value: null, partition: this.partition }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
    return key;
  }

  applyRestored(key: string, value: Buffer | null): void {
    if (key.startsWith(MARKER_PREFIX)) return;
    if (value === null) {
      this.aggregates.delete(key);
      return;
    }
    const { aggregate, fresh } = decodeAggregate<Versioned>(value);
    this.aggregates.set(key, aggregate);
    this.restoredTail.push(fresh);
    if (this.restoredTail.length > 2 * REPUBLISHED_STATE_RECORDS) {
      this.restoredTail = this.restoredTail.slice(-REPUBLISHED_STATE_RECORDS);
    }
  }

  /** The outcomes decided by the partition's last transactions before this owner, once. */
  takeRestoredOutcomes(): Outcome[] {
    const outcomes = this.restoredTail.slice(-REPUBLISHED_STATE_RECORDS).flat();
    this.restoredTail = [];
    return outcomes;
  }

  get size(): number {
    return this.aggregates.size;
  }

  /**
   * Decides a batch and commits it in one transaction. Returns the outcomes to publish. On any
   * failure the transaction is aborted and the error rethrown: the caller drops this worker
   * (its producer may be fenced or in doubt) and resumes from the committed offset.
   */
  async process(messages: readonly KafkaMessage[]): Promise<Outcome[]> {
    const producer = this.requireProducer();
    const last = messages.at(-1);
    if (!last) return [];
    const { commands, invalid } = await this.decodeAll(messages);
    const published = await this.options.publishedOutcomes(
      commands.map((c) => c.value.metadata.commandId),
    );
    const decided = decideBatch(
      this.context.decider,
      (id) => this.aggregates.get(id),
      commands,
      published,
    );

    // One span per command, child of the trace its record carries; its events carry this span.
    const spans = commandSpans(messages, this.context.commandTopic);
    const transaction = await producer.transaction().catch((error: unknown) => {
      spans.end(error);
      throw error;
    });
    let decision: AnyDecision;
    try {
      const positions = await this.appendEvents(transaction, decided, spans);
      decision = withPositions(decided, positions);
      if (decision.aggregates.size > 0) {
        await transaction.send({
          topic: this.context.stateTopic,
          // States repeat their recent outcomes; JSON compresses well.
          compression: CompressionTypes.GZIP,
          messages: [...decision.aggregates].map(([id, aggregate]) => ({
            key: id,
            value: encodeAggregate(
              aggregate,
              aggregate.recent.filter((o) => decision.decided.has(o.commandId)).length,
            ),
            partition: this.partition,
            headers: { 'content-type': STATE_CONTENT_TYPE },
          })),
        });
      }
      await retryConcurrentTransactions(() =>
        transaction.sendOffsets({
          consumerGroupId: this.options.groupId,
          topics: [
            {
              topic: this.context.commandTopic,
              partitions: [{ partition: this.partition, offset: String(Number(last.offset) + 1) }],
            },
          ],
        }),
      );
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      spans.end(error);
      throw error;
    }
    spans.end();
    for (const [id, aggregate] of decision.aggregates) this.aggregates.set(id, aggregate);
    return [...invalid, ...decision.outcomes];
  }

  private async appendEvents(
    transaction: Awaited<ReturnType<Producer['transaction']>>,
    decision: AnyDecision,
    spans: CommandSpans,
  ): Promise<Map<string, string>> {
    const positions = new Map<string, string>();
    if (decision.events.length === 0) return positions;
    const messages = await Promise.all(
      decision.events.map(async ({ aggregateId, commandId, event }) => {
        const { metadata } = event.value;
        const { payload, schemaId } = await this.options.serde.encode(
          event.type as never,
          event.value as never,
        );
        return {
          key: aggregateId,
          value: payload,
          partition: this.partition,
          headers: writeHeaders(
            {
              id: metadata.eventId,
              type: String(event.type),
              correlationId: metadata.correlationId,
              causationId: commandId,
              actor: metadata.actor,
              schemaId,
            },
            spans.contextOf(commandId),
          ),
        };
      }),
    );
    const [written] = await transaction.send({
      topic: this.context.eventsTopic,
      acks: -1,
      messages,
    });
    if (!written) throw new Error('no record metadata for the appended events');
    // One partition, one batch: offsets are contiguous from the base offset, in send order.
    const base = Number(written.baseOffset);
    decision.events.forEach(({ commandId }, index) => {
      positions.set(commandId, `${this.context.eventsTopic}:${this.partition}:${base + index}`);
    });
    return positions;
  }

  private async decodeAll(messages: readonly KafkaMessage[]) {
    const commands: AnyCommand[] = [];
    const invalid: Outcome[] = [];
    for (const message of messages) {
      try {
        const decoded = await this.options.serde.decode(message.value ?? Buffer.alloc(0));
        if (!this.context.commandTypes.has(decoded.type)) {
          throw new SerdeError(
            'NOT_A_COMMAND',
            `${decoded.type} is not a ${this.context.context.name} command`,
          );
        }
        commands.push({ type: decoded.type, value: decoded.value } as unknown as AnyCommand);
      } catch (error) {
        if (!(error instanceof SerdeError) || !error.poison) throw error;
        // A poison command is answered (when its id is known) and skipped: it can never succeed.
        this.options.log.warn(
          { err: error, offset: message.offset },
          'undecodable command skipped',
        );
        const headers = safeHeaders(message);
        if (headers) {
          invalid.push({
            status: 'rejected',
            commandId: headers.id,
            actor: headers.actor,
            aggregateId: message.key?.toString('utf8') ?? '',
            code: error.code,
            httpStatus: 400,
            detail: error.message,
            extensions: {},
          });
        }
      }
    }
    return { commands, invalid };
  }

  private requireProducer(): Producer {
    if (!this.producer) throw new Error(`worker ${this.transactionalId} is not started`);
    return this.producer;
  }
}

function safeHeaders(message: KafkaMessage) {
  try {
    return readHeaders(message.headers);
  } catch {
    return undefined;
  }
}

interface CommandSpans {
  /** The context of a command's span (the active one for a command without a record here). */
  contextOf(commandId: string): Context;
  /** Ends every span, failed when the transaction was not committed. */
  end(error?: unknown): void;
}

/** A span per command record, each child of the trace context in the record's headers. */
function commandSpans(messages: readonly KafkaMessage[], topic: string): CommandSpans {
  const byCommand = new Map<string, { span: Span; context: Context }>();
  for (const message of messages) {
    const headers = safeHeaders(message);
    if (!headers) continue;
    const parent = contextFrom(message.headers, ROOT_CONTEXT);
    const span = tracer().startSpan(
      `process ${headers.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.destination.name': topic,
          'messaging.kafka.offset': Number(message.offset),
          'parley.command_id': headers.id,
        },
      },
      parent,
    );
    byCommand.set(headers.id, { span, context: trace.setSpan(parent, span) });
  }
  return {
    contextOf: (commandId) => byCommand.get(commandId)?.context ?? context.active(),
    end: (error) => {
      for (const { span } of byCommand.values()) {
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    },
  };
}
