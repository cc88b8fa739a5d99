/**
 * The assistant reactor: a consumer group over the conversation events. It keeps its own memory of
 * each conversation from the events (memory.ts), answers every message that awaits a reply (a new
 * one, or one the owner asked to answer again) by streaming the model's tokens to the
 * conversation's reply stream (reply-writer.ts), and records the reply through a command, so the
 * reply is an event like any other: replays and rebuilds read it and never call a model.
 *
 * - Ordered per conversation, concurrent across conversations (ASSISTANT_CONCURRENCY at most).
 * - Exactly one reply recorded per message and attempt: the record command's id is derived from
 *   them, so a reactor that crashed mid-reply and asks again sends the same command, which the
 *   processor answers once; a reply already sent is not asked for again (memory.recorded).
 * - A reply that cannot be made is recorded as failed with the reason, and the stream ends with a
 *   `reply-failed` event: a conversation never stays "typing".
 * - A message older than ASSISTANT_MAX_MESSAGE_AGE_SECONDS when the reactor reaches it (it was
 *   down, or a group reset) is recorded as failed (`expired`) instead of asked; the processor
 *   refuses that for a message already answered, so a replay from zero writes nothing.
 */
import { ASSISTANT_ACTOR } from '@parley/platform/actors';
import { uuidFrom } from '@parley/platform/ids';
import type { Consumer, Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import type { EncryptedText, PersonalDataCipher } from '@parley/platform/personal-data';
import type { Redis } from '@parley/platform/redis';
import { stopChannel, stopKey } from '@parley/platform/reply-stream';
import type { SendBatcher } from '@parley/platform/send-batcher';
import {
  type Context,
  contextFrom,
  inSpan,
  ROOT_CONTEXT,
  SpanKind,
} from '@parley/platform/tracing';
import { countTokens } from '@parley/platform/usage-quotas';
import type { ChatEventMap, CommandMetadata, RecordMap } from '@parley/schemas/generated/records';
import { commandRecord } from '@parley/schemas/serde/command-record';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import { generateText, type LanguageModel } from 'ai';
import type { ConversationMemory, Keeping, StoredTurn } from './memory.ts';
import type { AssistantMetrics } from './metrics.ts';
import { type ModelCaller, type Reply, ReplyFailed, usageOf } from './model/model-call.ts';
import { PartitionProgress } from './partition-progress.ts';
import { buildPrompt, type Turn } from './prompt.ts';
import type { ReplyWriter } from './reply-writer.ts';

export interface ReactorOptions {
  kafka: Kafka;
  serde: AvroSerde;
  /**
   * The commands' producer, batched: its idempotent producer has one request in flight per broker,
   * so replies ending together leave in one request instead of queueing one by one.
   */
  sender: SendBatcher;
  redis: Redis;
  /** A connection of its own for the stop signals (a subscribed connection does nothing else). */
  subscriber: Redis;
  cipher: PersonalDataCipher;
  memory: ConversationMemory;
  writer: ReplyWriter;
  caller: ModelCaller;
  /** The model and who serves it, as the recorded reply names them; titles are asked of it. */
  model: { model: LanguageModel; provider: string; modelId: string };
  metrics: AssistantMetrics;
  log: Logger;
  eventsTopic: string;
  commandsTopic: string;
  groupId: string;
  namespace: string;
  systemPrompt: string;
  promptBudgetTokens: number;
  concurrency: number;
  maxMessageAgeMs: number;
  titleTimeoutMs: number;
}

type ChatEvent = {
  [K in keyof ChatEventMap]: { type: K; value: ChatEventMap[K] };
}[keyof ChatEventMap];

/** At most `n` tasks at once, in the order they asked. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/** How often the offsets of what was done are committed. */
const COMMIT_EVERY_MS = 500;

export const replyIdOf = (messageId: string, attempt: number) =>
  uuidFrom(`assistant-reply|${messageId}|${attempt}`);
const recordCommandIdOf = (messageId: string, attempt: number) =>
  uuidFrom(`assistant-record|${messageId}|${attempt}`);

export async function startReactor(options: ReactorOptions) {
  const { log, memory, writer, metrics, cipher } = options;
  const limiter = new Limiter(options.concurrency);
  /** Events handed out and not done, at most: more waits before the next fetch. */
  const MAX_WORKING = options.concurrency * 4;
  /** Replies being written, by the message they answer: a stop signal aborts one. */
  const inFlight = new Map<string, AbortController>();
  /** Set on shutdown: a reply cut short by it is not recorded; the next owner answers again. */
  let shuttingDown = false;

  options.subscriber.on('message', (_channel: string, messageId: string) => {
    inFlight.get(messageId)?.abort(new Error('stopped by the user'));
  });
  // A fresh connection takes no command before it is ready (no offline queue).
  if (options.subscriber.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      options.subscriber.once('ready', () => resolve());
      setTimeout(() => reject(new Error('Redis not ready for the stop signals')), 10_000).unref();
    });
  }
  await options.subscriber.subscribe(stopChannel(options.namespace));

  const send = async <N extends keyof RecordMap>(
    type: N,
    value: RecordMap[N] & { metadata: CommandMetadata },
  ) => {
    const record = await commandRecord(options.serde, type, value);
    await options.sender.send(options.commandsTopic, record);
  };

  const metadataFor = (conversationId: string, commandId: string, correlationId: string) => ({
    commandId,
    aggregateId: conversationId,
    issuedAt: Date.now(),
    correlationId,
    actor: ASSISTANT_ACTOR,
    actorRoles: [],
    expectedVersion: null,
    idempotencyKey: null,
    tenantId: null,
  });

  /** The conversation's turns up to the message, in clear; undefined when the owner is erased. */
  const promptTurns = async (
    turns: StoredTurn[],
    messageId: string,
  ): Promise<Turn[] | undefined> => {
    await cipher.prepare(turns.map((t) => t.encrypted));
    const opened: Turn[] = [];
    for (const turn of turns) {
      const text = turn.encrypted ? await cipher.decrypt(turn.encrypted) : turn.plain;
      if (text === undefined) {
        // The message being answered is unreadable: its owner was erased.
        if (turn.role === 'user' && turn.messageId === messageId) return undefined;
        continue;
      }
      opened.push({ role: turn.role, text });
    }
    return opened;
  };

  const fail = async (
    conversationId: string,
    messageId: string,
    attempt: number,
    reason: string,
    correlationId: string,
  ) => {
    const commandId = recordCommandIdOf(messageId, attempt);
    await send('RecordAssistantReplyFailure', {
      metadata: metadataFor(conversationId, commandId, correlationId),
      replyTo: messageId,
      reason,
      model: `${options.model.provider}:${options.model.modelId}`,
      attempt,
    });
    await memory.recorded(commandId);
    await writer.append(conversationId, {
      type: 'reply-failed',
      replyId: replyIdOf(messageId, attempt),
      reason,
    });
    metrics.replies.inc({ outcome: reason === 'expired' ? 'expired' : 'failed' });
  };

  /** The tokens a model call cost: the owner's daily count (once per command) and the metric. */
  const charge = (ownerId: string, commandId: string, usage: Reply['usage']) => {
    metrics.tokens.inc({ direction: 'input' }, usage.inputTokens);
    metrics.tokens.inc({ direction: 'output' }, usage.outputTokens);
    return countTokens(options.redis, ownerId, commandId, usage.inputTokens + usage.outputTokens);
  };

  /** After the first exchange of an untitled conversation: the model's title, once. */
  const proposeTitle = async (
    conversationId: string,
    ownerId: string,
    turns: Turn[],
    correlationId: string,
  ) => {
    try {
      const { text, totalUsage } = await generateText({
        model: options.model.model,
        system: 'Give a short title (at most six words) for a conversation that starts like this.',
        messages: turns.map((t) => ({ role: t.role, content: t.text })),
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(options.titleTimeoutMs),
      });
      const title = text
        .trim()
        .replace(/^["“]|["”]$/g, '')
        .slice(0, 200);
      if (!title) return;
      const commandId = uuidFrom(`assistant-title|${conversationId}`);
      const usage = usageOf(totalUsage);
      await send('ProposeConversationTitle', {
        metadata: metadataFor(conversationId, commandId, correlationId),
        encryptedTitle: await cipher.encrypt(ownerId, title),
        promptTokens: usage.inputTokens,
        completionTokens: usage.outputTokens,
      });
      // A title costs tokens like a reply: they count against the owner's daily quota too.
      await Promise.all([memory.titled(conversationId), charge(ownerId, commandId, usage)]);
    } catch (error) {
      // A title is a nicety: the conversation stays untitled, the reply is recorded anyway.
      log.warn({ err: error, conversationId }, 'no title proposed');
    }
  };

  /** What a reply is about: the message, which reply to it, and the event that asked. */
  interface Ask {
    conversationId: string;
    messageId: string;
    attempt: number;
    correlationId: string;
    ownerId: string;
  }

  /** A reply written to the end (or stopped): recorded, counted, announced, measured. */
  const record = async (ask: Ask, reply: Reply) => {
    const commandId = recordCommandIdOf(ask.messageId, ask.attempt);
    const replyId = replyIdOf(ask.messageId, ask.attempt);
    await send('RecordAssistantReply', {
      metadata: metadataFor(ask.conversationId, commandId, ask.correlationId),
      messageId: replyId,
      replyTo: ask.messageId,
      text: '',
      encryptedText: await cipher.encrypt(ask.ownerId, reply.text),
      model: `${options.model.provider}:${options.model.modelId}`,
      provider: options.model.provider,
      promptTokens: reply.usage.inputTokens,
      completionTokens: reply.usage.outputTokens,
      latencyMs: reply.durationMs,
      finishReason: reply.finishReason,
      firstTokenMs: reply.firstTokenMs,
      attempt: ask.attempt,
    });
    const stopped = reply.finishReason === 'stopped';
    // The reply is in Kafka: what follows is independent, and the client hears of the end at once.
    await Promise.all([
      memory.recorded(commandId),
      // The stop was for this reply: a reply asked for again later starts afresh.
      stopped ? options.redis.del(stopKey(options.namespace, ask.messageId)) : undefined,
      charge(ask.ownerId, commandId, reply.usage),
      writer.append(
        ask.conversationId,
        stopped
          ? { type: 'reply-stopped', replyId }
          : {
              type: 'reply-finished',
              replyId,
              finishReason: reply.finishReason,
              usage: reply.usage,
            },
      ),
    ]);
    metrics.replies.inc({ outcome: stopped ? 'stopped' : 'finished' });
    if (!stopped) {
      metrics.firstToken.observe(reply.firstTokenMs / 1000);
      metrics.duration.observe(reply.durationMs / 1000);
    }
  };

  /** Streams the model's reply to the reply stream; the user's stop signal can cut it short. */
  const write = async (
    stoppedAlready: boolean,
    ask: Ask,
    prompt: ReturnType<typeof buildPrompt>,
  ) => {
    const replyId = replyIdOf(ask.messageId, ask.attempt);
    // Not awaited: the model is asked meanwhile; the deltas follow it in order.
    const started = writer.append(ask.conversationId, {
      type: 'reply-started',
      replyId,
      replyTo: ask.messageId,
      attempt: ask.attempt,
    });
    const stop = new AbortController();
    inFlight.set(ask.messageId, stop);
    // Stopped before this reactor reached the message: nothing is asked.
    if (stoppedAlready) stop.abort(new Error('stopped by the user'));
    const deltas = writer.deltas(ask.conversationId, replyId, started);
    metrics.inFlight.inc();
    try {
      return await inSpan('model stream', { kind: SpanKind.CLIENT }, () =>
        options.caller.streamReply({
          system: prompt.system,
          messages: prompt.messages,
          stop: stop.signal,
          onDelta: deltas.push,
        }),
      );
    } finally {
      // The reply goes on without them: it is recorded whole, and the conversation holds its text.
      await deltas.flush().catch((error: unknown) => {
        log.warn({ err: error, conversationId: ask.conversationId }, 'reply deltas not streamed');
      });
      inFlight.delete(ask.messageId);
      metrics.inFlight.dec();
    }
  };

  /** An untitled conversation's first exchange, written to the end: the model proposes a title. */
  const titleAfterFirstExchange = async (ask: Ask, turns: Turn[], reply: Reply) => {
    const first = ask.attempt === 1 && turns.filter((t) => t.role === 'user').length === 1;
    if (!first || reply.finishReason === 'stopped') return;
    const exchange: Turn[] = [...turns, { role: 'assistant', text: reply.text }];
    await proposeTitle(ask.conversationId, ask.ownerId, exchange, ask.correlationId);
  };

  /** Answers a message that awaits a reply, unless this reply was already sent for good. */
  const answer = async (
    conversationId: string,
    messageId: string,
    attempt: number,
    event: ChatEvent,
    asked?: { authorId: string; keeping: Keeping },
  ) => {
    const { metadata } = event.value;
    const about = await memory.forAnswer(
      conversationId,
      messageId,
      recordCommandIdOf(messageId, attempt),
      stopKey(options.namespace, messageId),
      asked?.keeping,
    );
    if (about.recorded) return;
    const ownerId = about.ownerId ?? asked?.authorId;
    const failWith = (reason: string) =>
      fail(conversationId, messageId, attempt, reason, metadata.correlationId);
    if (!ownerId) return failWith('unknown_conversation');
    if (Date.now() - Number(metadata.occurredAt) > options.maxMessageAgeMs) {
      return failWith('expired');
    }
    const turns = await promptTurns(about.turns, messageId);
    if (!turns) return failWith('owner_erased');
    const ask = {
      conversationId,
      messageId,
      attempt,
      ownerId,
      correlationId: metadata.correlationId,
    };
    let reply: Reply;
    try {
      reply = await write(
        about.stopped,
        ask,
        buildPrompt(options.systemPrompt, turns, options.promptBudgetTokens),
      );
    } catch (error) {
      if (!(error instanceof ReplyFailed)) throw error;
      log.warn({ err: error.cause ?? error, conversationId, messageId }, 'reply failed');
      return failWith(error.reason);
    }
    if (shuttingDown) throw new Error('shutting down: the reply is left to the next owner');
    await record(ask, reply);
    if (!about.titled) await titleAfterFirstExchange(ask, turns, reply);
  };

  const textOf = (plain: string, encrypted: EncryptedText | null) => ({ plain, encrypted });

  /** One event of a conversation, in log order. */
  const handle = async (event: ChatEvent) => {
    const { metadata } = event.value;
    const id = metadata.aggregateId;
    const version = metadata.aggregateVersion;
    switch (event.type) {
      case 'ConversationStarted':
        return memory.started(
          id,
          event.value.ownerId,
          event.value.title !== '' || event.value.encryptedTitle !== null,
        );
      case 'ConversationRenamed':
        return memory.titled(id);
      case 'UserMessagePosted':
        // The message is kept in the memory in the same round trip that reads it for the prompt.
        return answer(id, event.value.messageId, 1, event, {
          authorId: event.value.authorId,
          keeping: {
            version,
            turn: {
              role: 'user',
              messageId: event.value.messageId,
              ...textOf(event.value.text, event.value.encryptedText),
            },
          },
        });
      case 'AssistantReplyRecorded':
        return memory.remember(id, version, {
          role: 'assistant',
          messageId: event.value.replyTo,
          ...textOf(event.value.text, event.value.encryptedText),
        });
      case 'ReplyRegenerationRequested':
        return answer(id, event.value.messageId, event.value.attempt, event);
      case 'ConversationDeleted':
        return memory.forget(id);
      default:
        return;
    }
  };

  const consumer: Consumer = options.kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    maxBytesPerPartition: 512 * 1024,
  });

  /**
   * Events are handed to their conversation's queue and the batch returns at once: a partition
   * is never held up by the replies being written for it. Each partition's offsets are committed
   * up to the first event not done (PartitionProgress); a crash redelivers from there, and what
   * was recorded already is not asked again.
   */
  const progress = new Map<string, PartitionProgress>();
  const queues = new Map<string, Promise<void>>();
  let working = 0;
  let drained: (() => void) | undefined;
  let commitTimer: NodeJS.Timeout | undefined;

  const commit = () => {
    commitTimer = undefined;
    const offsets = [...progress].flatMap(([key, p]) => {
      const at = p.commitPoint();
      const [topic = '', partition = '0'] = key.split('|');
      return at === undefined ? [] : [{ topic, partition: Number(partition), offset: String(at) }];
    });
    if (offsets.length === 0) return;
    consumer.commitOffsets(offsets).catch((error: unknown) => {
      // A rebalance took the partition: its next owner starts from the last commit.
      log.warn({ err: error }, 'offsets not committed');
    });
  };
  const scheduleCommit = () => {
    commitTimer ??= setTimeout(commit, COMMIT_EVERY_MS);
  };

  /** One event in its conversation's order; tried again (with backoff) until it is done. */
  const enqueue = (event: ChatEvent, done: () => void, traced?: Context) => {
    const id = event.value.metadata.aggregateId;
    working += 1;
    const previous = queues.get(id) ?? Promise.resolve();
    let handled = false;
    const next = previous.then(() =>
      limiter.run(async () => {
        for (let attempt = 0; !shuttingDown; attempt++) {
          try {
            // With tracing on, the event's trace goes on through the model call and the reply.
            await (traced
              ? inSpan(`assistant ${event.type}`, { parent: traced, kind: SpanKind.CONSUMER }, () =>
                  handle(event),
                )
              : handle(event));
            handled = true;
            return;
          } catch (error) {
            if (shuttingDown) return;
            log.error({ err: error, conversationId: id }, 'event not handled; trying again');
            await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
          }
        }
      }),
    );
    // Only what was handled counts as done: on shutdown the rest stays for the next owner.
    const settled = next.finally(() => {
      working -= 1;
      if (handled) done();
      if (queues.get(id) === settled) queues.delete(id);
      if (working < MAX_WORKING) drained?.();
    });
    queues.set(id, settled);
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const mine = new Set(
      Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((p) => `${topic}|${p}`),
      ),
    );
    for (const key of progress.keys()) if (!mine.has(key)) progress.delete(key);
  });

  await consumer.connect();
  await consumer.subscribe({ topic: options.eventsTopic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 12,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale()) return;
      const key = `${batch.topic}|${batch.partition}`;
      let partition = progress.get(key);
      if (!partition) {
        partition = new PartitionProgress();
        progress.set(key, partition);
      }
      const tracked = partition;
      for (const message of batch.messages) {
        let event: ChatEvent;
        try {
          event = (await options.serde.decode(
            message.value ?? Buffer.alloc(0),
          )) as unknown as ChatEvent;
        } catch (error) {
          log.warn({ err: error, offset: message.offset }, 'undecodable event skipped');
          continue;
        }
        const offset = Number(message.offset);
        tracked.add(offset);
        const traced = message.headers?.traceparent
          ? contextFrom(message.headers, ROOT_CONTEXT)
          : undefined;
        enqueue(
          event,
          () => {
            tracked.done(offset);
            scheduleCommit();
          },
          traced,
        );
      }
      tracked.seen(Number(batch.lastOffset()));
      // Fetching goes on from here; what is committed follows the work (commit above).
      resolveOffset(batch.lastOffset());
      scheduleCommit();
      // Enough handed out: wait for some to finish before fetching more (heartbeats go on).
      while (working >= MAX_WORKING && isRunning() && !isStale()) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, 1_000);
        });
        await heartbeat();
      }
    },
  });

  return {
    consumer,
    inFlight: () => inFlight.size,
    stop: async () => {
      shuttingDown = true;
      for (const controller of inFlight.values()) controller.abort(new Error('shutting down'));
      clearTimeout(commitTimer);
      await Promise.allSettled([...queues.values()]);
      commit();
      await consumer.disconnect();
      await options.subscriber.unsubscribe().catch(() => undefined);
    },
  };
}
