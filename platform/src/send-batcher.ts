/**
 * Many concurrent callers, few produce requests: messages given while a send is in flight wait
 * and leave together in the next one (one request for up to `maxMessages`), so under load the
 * producer sends large batches and when idle a message leaves at once. Each caller's promise
 * settles with its own batch, and every send is awaited before the next one starts, which keeps
 * the idempotent producer's sequence numbers in order.
 */
import type { Message, TopicMessages } from 'kafkajs';

/** What the batcher needs of a producer: one request for many topics' messages. */
export interface BatchProducer {
  sendBatch(batch: { acks: -1 | 0 | 1; topicMessages: TopicMessages[] }): Promise<unknown>;
}

interface Queued {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface SendBatcherOptions {
  producer: BatchProducer;
  acks?: -1 | 0 | 1;
  maxMessages?: number;
}

export class SendBatcher {
  private queue: Queued[] = [];
  private sending = false;
  private readonly maxMessages: number;

  constructor(private readonly options: SendBatcherOptions) {
    this.maxMessages = options.maxMessages ?? 500;
  }

  /**
   * Resolves once the message is written. Aborting (a caller's timeout) takes the message back if
   * it has not left yet; one already in a request in flight may still be written.
   */
  send(topic: string, message: Message, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const queued: Queued = { topic, message, resolve, reject };
      this.queue.push(queued);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(queued);
          if (at >= 0) {
            this.queue.splice(at, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
      if (!this.sending) void this.drain();
    });
  }

  /** Messages waiting for the next request (for tests and metrics). */
  get pending(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxMessages);
        try {
          await this.sendBatch(batch);
          for (const queued of batch) queued.resolve();
        } catch (error) {
          for (const queued of batch) queued.reject(error);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private sendBatch(batch: readonly Queued[]): Promise<unknown> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of batch) {
      const messages = byTopic.get(topic) ?? [];
      messages.push(message);
      byTopic.set(topic, messages);
    }
    return this.options.producer.sendBatch({
      acks: this.options.acks ?? -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }
}
