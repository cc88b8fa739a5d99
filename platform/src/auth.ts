/**
 * Verifies access tokens (ES256 JWTs) on every route that asks for it: algorithm pinned, issuer
 * and audience checked, expiry required, the key chosen by the token's `kid` among the public keys
 * configured (several during a key rotation). Services verify only; they never hold a signing key.
 */
/// <reference types="@fastify/jwt" preserve="true" />
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ConfigOf, env } from './config.ts';
import { defineError } from './errors.ts';

export const authSettings = {
  JWT_ISSUER: env.string({ default: 'parley' }),
  JWT_AUDIENCE: env.string({ default: 'parley-api' }),
  /** JSON object from key id to PEM public key; usually JWT_PUBLIC_KEYS_FILE, a mounted file. */
  JWT_PUBLIC_KEYS: env.secret(),
  /**
   * The longest lifetime (exp - iat) a token may have; longer ones are refused. It bounds how long
   * a deactivated or erased account must be remembered to refuse its tokens (revocations.ts).
   */
  JWT_MAX_LIFETIME_SECONDS: env.int(60, 7 * 86_400, { default: 86_400 }),
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
/** A valid token of an account that was deactivated or erased since it was issued. */
export const TokenRevoked = defineError(
  'TOKEN_REVOKED',
  401,
  'This account is no longer active; its tokens are refused',
);

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

/** Tokens remembered as verified, and for how long at most (never past their expiry). */
const VERIFIED_TOKENS = 10_000;
const VERIFIED_FOR_MS = 60_000;

export interface AuthOptions {
  publicKeys: ReadonlyMap<string, string>;
  issuer: string;
  audience: string;
  /** Tokens living longer than this (exp - iat, seconds) are refused. */
  maxLifetimeSeconds: number;
  /** Users whose tokens are refused although valid (deactivated or erased accounts). */
  revoked?: { has(userId: string): boolean };
}

/** The token checks from a service's auth settings (and its revoked users, if it has them). */
export function authOptions(
  config: ConfigOf<typeof authSettings>,
  revoked?: AuthOptions['revoked'],
): AuthOptions {
  return {
    publicKeys: parsePublicKeys(config.JWT_PUBLIC_KEYS),
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    maxLifetimeSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    ...(revoked ? { revoked } : {}),
  };
}

export async function registerAuth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  /** When each principal's token expires (ms), noted as the token is verified. */
  const expiries = new WeakMap<Principal, number>();
  /** How long each principal's token lives (exp - iat, seconds). */
  const lifetimes = new WeakMap<Principal, number>();
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
      requiredClaims: ['sub', 'exp', 'iat', 'iss', 'aud'],
    },
    formatUser: (payload) => {
      const principal: Principal = { userId: payload.sub, roles: payload.roles };
      const { exp, iat } = payload as { exp?: unknown; iat?: unknown };
      if (typeof exp === 'number') expiries.set(principal, exp * 1000);
      if (typeof exp === 'number' && typeof iat === 'number') lifetimes.set(principal, exp - iat);
      return principal;
    },
  });
  // A client sends the same token for its whole life: its signature is verified once a minute,
  // not on every request (a map lookup instead of decoding, key lookup and ES256). An entry never
  // outlives the token's expiry; the key set only changes with a restart, which empties the map.
  const verified = new Map<string, { principal: Principal; until: number }>();
  const remember = (authorization: string, principal: Principal) => {
    const expiresAt = expiries.get(principal);
    if (expiresAt === undefined) return;
    if (verified.size >= VERIFIED_TOKENS) {
      // The oldest entry (insertion order) makes room.
      const oldest = verified.keys().next().value;
      if (oldest !== undefined) verified.delete(oldest);
    }
    verified.set(authorization, {
      principal,
      until: Math.min(expiresAt, Date.now() + VERIFIED_FOR_MS),
    });
  };
  /** What a freshly verified token must also hold: a uuid subject, known roles, a bounded life. */
  const checkClaims = (principal: Principal) => {
    const { userId, roles } = principal;
    const validRoles =
      Array.isArray(roles) && roles.every((r) => (ROLES as readonly string[]).includes(r));
    if (!UUID.test(userId) || !validRoles) {
      throw new Unauthorized('the token has no valid subject or roles');
    }
    const lifetime = lifetimes.get(principal);
    if (lifetime === undefined || lifetime > options.maxLifetimeSeconds) {
      throw new Unauthorized(
        `the token lives longer than the ${options.maxLifetimeSeconds} s allowed`,
      );
    }
  };
  /** The principal of a token verified within the last minute, if it is still valid. */
  const rememberedFor = (authorization: string | undefined) => {
    const known = authorization === undefined ? undefined : verified.get(authorization);
    if (!known) return undefined;
    if (known.until > Date.now()) return known.principal;
    verified.delete(authorization as string);
    return undefined;
  };
  app.decorate('authenticate', async (request: FastifyRequest) => {
    const authorization = request.headers.authorization;
    const remembered = rememberedFor(authorization);
    if (remembered) {
      if (options.revoked?.has(remembered.userId)) throw new TokenRevoked();
      request.user = remembered;
      return;
    }
    try {
      await request.jwtVerify();
    } catch (error) {
      throw new Unauthorized(error instanceof Error ? error.message : 'invalid token');
    }
    checkClaims(request.user);
    if (options.revoked?.has(request.user.userId)) throw new TokenRevoked();
    if (authorization !== undefined) remember(authorization, request.user);
  });
}
