/**
 * What every command route shares: the command metadata built from the request (actor from the
 * token, id from the Idempotency-Key, expected version from If-Match) and the HTTP answer built
 * from the outcome (201/200, the rule's 4xx as problem+json, or 202 with a Location to poll).
 */

import type { Principal } from '@parley/platform/auth';
import { AppError } from '@parley/platform/errors';
import { problems } from '@parley/platform/problem-responses';
import { perUserRateLimit } from '@parley/platform/user-rate-limit';
import type { CommandMetadata } from '@parley/schemas/generated/records';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Submitted } from './command-gateway.ts';
import { commandIdFor } from './command-gateway.ts';

/**
 * The route config of the routes that need a token here (password change has a tighter one of its
 * own): one budget per user for commands and outcome polls together (WRITE_RATE_LIMIT_PER_MINUTE).
 */
export function writeRateLimit(maxPerMinute: number) {
  return perUserRateLimit(maxPerMinute, 'user-writes');
}

export const commandHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Makes retries safe: the same key gives the same outcome',
    }),
  ),
  'if-match': Type.Optional(
    Type.String({
      pattern: '^(W/)?"?[0-9]{1,15}"?$',
      description: 'The aggregate version the client saw; 409 if it moved on',
    }),
  ),
});

export const accepted = Type.Object({
  commandId: Type.String({ format: 'uuid' }),
  aggregateId: Type.String({ format: 'uuid' }),
  version: Type.Integer({ minimum: 0, description: 'Aggregate version after the command' }),
  position: Type.Union([Type.String(), Type.Null()], {
    description:
      'Log position of the last event (topic:partition:offset). The query API does not take it: to read your writes, send the version as X-Min-Version',
  }),
});

export const pending = Type.Object({
  commandId: Type.String({ format: 'uuid' }),
  status: Type.Literal('pending'),
});

/**
 * What a command route answers: the success, 202 while the outcome is not there in time, and the
 * refusals a decider or the gateway can give (401 without a valid token, 403 for a role the
 * command needs, 404 for an aggregate the actor may not see, 409 for If-Match or one that
 * exists, 422 for a broken rule or a reused Idempotency-Key); the HTTP base adds the generic ones.
 */
export const commandResponses = (success: 200 | 201) => ({
  [success]: accepted,
  202: pending,
  ...problems(401, 403, 404, 409, 422),
});

/** The parts of a request a command needs (structural, so any typed route's request fits). */
interface CommandRequest {
  readonly id: string;
  readonly user: Principal;
  readonly headers: {
    readonly 'idempotency-key'?: string | undefined;
    readonly 'if-match'?: string | undefined;
  };
}

export function commandMetadata(request: CommandRequest, aggregateId: string): CommandMetadata {
  const actor = `user:${request.user.userId}`;
  const ifMatch = request.headers['if-match'];
  const idempotencyKey = request.headers['idempotency-key'];
  return {
    commandId: commandIdFor(actor, idempotencyKey),
    aggregateId,
    issuedAt: Date.now(),
    correlationId: request.id,
    actor,
    actorRoles: [...request.user.roles],
    expectedVersion: ifMatch ? Number(ifMatch.replace(/\D/g, '')) : null,
    idempotencyKey: idempotencyKey ?? null,
    tenantId: null,
  };
}

export function answer(
  reply: FastifyReply,
  submitted: Submitted,
  success: 200 | 201,
  location?: string,
) {
  if (submitted.kind === 'pending') {
    return reply
      .status(202)
      .header('location', `/v1/commands/${submitted.commandId}`)
      .send({ commandId: submitted.commandId, status: 'pending' });
  }
  const { outcome } = submitted;
  if (outcome.status === 'rejected') {
    throw new AppError(outcome.code, outcome.httpStatus, outcome.detail, {
      extensions: outcome.extensions,
    });
  }
  if (location && success === 201) reply.header('location', location);
  return reply.status(success).header('etag', `"${outcome.version}"`).send({
    commandId: outcome.commandId,
    aggregateId: outcome.aggregateId,
    version: outcome.version,
    position: outcome.position,
  });
}
