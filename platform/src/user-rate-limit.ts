/**
 * A budget of requests per user per minute over a group of routes (@fastify/rate-limit's route
 * config). Counted once the token is verified, so the key is the user, not the address, and
 * before the body is validated, so a flood of refused requests spends the budget too. Counted by
 * each instance and shared through Redis (rate-limit-store.ts).
 */
import type { FastifyRequest } from 'fastify';

export function perUserRateLimit(maxPerMinute: number, groupId: string) {
  return {
    rateLimit: {
      max: maxPerMinute,
      timeWindow: 60_000,
      groupId,
      hook: 'preValidation' as const,
      keyGenerator: (request: FastifyRequest) => `user:${request.user?.userId ?? request.ip}`,
    },
  };
}
