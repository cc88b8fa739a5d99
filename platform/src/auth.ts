/**
 * Verifies access tokens (ES256 JWTs) on every route that asks for it: algorithm pinned, issuer
 * and audience checked, expiry required, the key chosen by the token's `kid` among the public keys
 * configured (several during a key rotation). Services verify only; they never hold a signing key.
 */
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { env } from './config.ts';
import { defineError } from './errors.ts';

export const authSettings = {
  JWT_ISSUER: env.string({ default: 'parley' }),
  JWT_AUDIENCE: env.string({ default: 'parley-api' }),
  /** JSON object from key id to PEM public key; usually JWT_PUBLIC_KEYS_FILE, a mounted file. */
  JWT_PUBLIC_KEYS: env.secret(),
};

export const ROLES = ['user', 'admin', 'analyst'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  readonly userId: string;
  readonly roles: readonly Role[];
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; roles: Role[] };
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>;
  }
}

export const Unauthorized = defineError('UNAUTHORIZED', 401, 'A valid access token is required');

export class KeySetError extends Error {}

/** Parses the configured key set; fails at start-up on anything but a non-empty {kid: PEM} object. */
export function parsePublicKeys(json: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new KeySetError('JWT_PUBLIC_KEYS is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KeySetError('JWT_PUBLIC_KEYS must be an object of key id -> PEM public key');
  }
  const keys = new Map(Object.entries(parsed as Record<string, unknown>));
  if (keys.size === 0) throw new KeySetError('JWT_PUBLIC_KEYS has no keys');
  for (const [kid, pem] of keys) {
    if (typeof pem !== 'string' || !pem.includes('BEGIN PUBLIC KEY')) {
      throw new KeySetError(`JWT_PUBLIC_KEYS['${kid}'] is not a PEM public key`);
    }
  }
  return keys as Map<string, string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function registerAuth(
  app: FastifyInstance,
  options: { publicKeys: ReadonlyMap<string, string>; issuer: string; audience: string },
): Promise<void> {
  await app.register(fastifyJwt, {
    secret: async (_request: FastifyRequest, token: TokenOrHeader) => {
      const kid = 'header' in token ? token.header.kid : token.kid;
      const key = options.publicKeys.get(kid ?? '');
      if (!key) throw new Unauthorized('the token was signed by an unknown key');
      return key;
    },
    // The key is chosen from the token's header, so the secret callback needs the whole token.
    decode: { complete: true },
    verify: {
      algorithms: ['ES256'],
      allowedIss: options.issuer,
      allowedAud: options.audience,
      requiredClaims: ['sub', 'exp', 'iss', 'aud'],
      // A client sends the same token for its whole life: verify its signature once a minute,
      // not on every request. Expiry is still checked on each; a key removed from the set
      // fails in the key lookup above, before this cache.
      cache: 10_000,
      cacheTTL: 60_000,
    },
    formatUser: (payload) => ({ userId: payload.sub, roles: payload.roles }),
  });
  app.decorate('authenticate', async (request: FastifyRequest) => {
    try {
      await request.jwtVerify();
    } catch (error) {
      throw new Unauthorized(error instanceof Error ? error.message : 'invalid token');
    }
    const { userId, roles } = request.user;
    if (
      !UUID.test(userId) ||
      !Array.isArray(roles) ||
      !roles.every((r) => (ROLES as readonly string[]).includes(r))
    ) {
      throw new Unauthorized('the token has no valid subject or roles');
    }
  });
}
