/**
 * Lets a request wait for its command's outcome: one Redis subscription per API instance,
 * dispatching each published outcome to the request that waits for it. A waiter registers before
 * the command is sent, and looks the outcome up once more when its time is up, so an outcome
 * published in between is not missed. While the subscription is down no outcome can arrive, so
 * requests answer 202 (pending) at once instead of waiting.
 */
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';
import type { Outcome } from './outcome.ts';
import { notePending, OUTCOME_CHANNEL, readOutcome } from './outcome-store.ts';

export class OutcomeWaiter {
  private readonly waiting = new Map<string, (outcome: Outcome) => void>();

  constructor(
    private readonly subscriber: Redis,
    private readonly reader: Redis,
    private readonly guard: Guard,
  ) {
    subscriber.on('message', (_channel: string, json: string) => {
      let outcome: Outcome;
      try {
        outcome = JSON.parse(json) as Outcome;
      } catch {
        return;
      }
      this.waiting.get(outcome.commandId)?.(outcome);
    });
  }

  /**
   * Subscribes whenever the connection becomes ready (at start and after Redis comes back), and
   * resolves after the first subscription.
   */
  start(): Promise<void> {
    return new Promise((resolve) => {
      const subscribe = () => {
        this.subscriber.subscribe(OUTCOME_CHANNEL).then(
          () => resolve(),
          () => {},
        );
      };
      this.subscriber.on('ready', subscribe);
      if (this.subscriber.status === 'ready') subscribe();
    });
  }

  /** The outcome already published for a command, if Redis has it (undefined when down). */
  async published(commandId: string): Promise<Outcome | undefined> {
    if (this.guard.isOpen()) return undefined;
    return await this.guard(() => readOutcome(this.reader, commandId)).catch(() => undefined);
  }

  /**
   * Notes that a command answered 202 is on its way, so GET /v1/commands/{id} answers 202 to its
   * sender (and 404 to everyone else, as for an id nobody sent). Best effort: without Redis that
   * route answers 503 anyway.
   */
  async notePending(commandId: string, actor: string): Promise<void> {
    if (this.guard.isOpen()) return;
    await this.guard(() => notePending(this.reader, commandId, actor)).catch(() => undefined);
  }

  /**
   * Registers interest in a command's outcome and returns a function that waits for it up to
   * `ms`; it resolves undefined when the outcome is not there in time.
   */
  expect(commandId: string): (ms: number) => Promise<Outcome | undefined> {
    let resolveOutcome: (outcome: Outcome) => void = () => {};
    const arrived = new Promise<Outcome>((resolve) => {
      resolveOutcome = resolve;
    });
    this.waiting.set(commandId, resolveOutcome);
    return async (wanted) => {
      const ms = this.subscriber.status === 'ready' ? wanted : 0;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), ms);
        });
        const outcome = await Promise.race([arrived, timeout]);
        return outcome ?? (await this.published(commandId));
      } finally {
        clearTimeout(timer);
        this.waiting.delete(commandId);
      }
    };
  }
}
