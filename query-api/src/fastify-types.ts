/**
 * Brings in the type augmentations of the plugins the platform registers (request.user from
 * @fastify/jwt, route `config.rateLimit` from @fastify/rate-limit): the platform's compiled
 * declarations do not carry them, so a build of this service from dist/ needs them named here.
 */
import type {} from '@fastify/jwt';
import type {} from '@fastify/rate-limit';
