/**
 * Who may read what. Every route needs a valid token (401 otherwise); owner routes answer 404 for
 * another user's resources (never revealing that they exist); admin and analyst routes answer 403
 * without the role. Reads are rate-limited per user over all read routes (one group), counted by
 * each instance and shared through Redis (platform/src/rate-limit-store.ts).
 */
import type { Role } from '@parley/platform/auth';
import { perUserRateLimit } from '@parley/platform/user-rate-limit';
import type { FastifyRequest } from 'fastify';
import { Forbidden } from './errors.ts';

export function requireRole(role: Role) {
  return async (request: FastifyRequest) => {
    if (!request.user.roles.includes(role))
      throw new Forbidden(`this route is for the ${role} role`);
  };
}

/** The route config of a rate-limited read: one budget per user for every read route. */
export function readRateLimit(maxPerMinute: number) {
  return perUserRateLimit(maxPerMinute, 'user-reads');
}
