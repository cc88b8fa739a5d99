/**
 * What the chat routes tell the assistant besides commands, through Redis: a message counted for
 * today's quota (once per command id), and a reply stopped (the reactor writing it aborts at
 * once; it could only see the StopReply event after the reply, its partition being busy with it).
 * Both are best effort while Redis is away (logged): the event stays the record of the stop.
 */
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import { STOP_KEEP_SECONDS, stopChannel, stopKey } from '@parley/platform/reply-stream';
import type { Guard } from '@parley/platform/resilience';
import { countMessage } from '@parley/platform/usage-quotas';

export class AssistantControl {
  constructor(
    private readonly redis: Redis,
    private readonly guard: Guard,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  async countMessage(userId: string, commandId: string): Promise<void> {
    await this.guard(() => countMessage(this.redis, userId, commandId)).catch((error: unknown) =>
      this.log.warn({ err: error }, 'message not counted for the quota: Redis out of reach'),
    );
  }

  async stop(messageId: string): Promise<void> {
    await this.guard(async () => {
      await this.redis.set(stopKey(this.namespace, messageId), '1', 'EX', STOP_KEEP_SECONDS);
      await this.redis.publish(stopChannel(this.namespace), messageId);
    }).catch((error: unknown) =>
      this.log.warn({ err: error, messageId }, 'stop not signalled: Redis out of reach'),
    );
  }
}
