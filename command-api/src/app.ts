/**
 * The command API as a Fastify app: platform base (health, metrics, problem+json), token
 * verification, the OpenAPI document at /docs, and one routes plugin per context.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { authOptions, registerAuth } from '@parley/platform/auth';
import { createHttpServer } from '@parley/platform/http';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { registerOpenApi } from '@parley/platform/openapi';
import type { FastifyInstance } from 'fastify';
import { authLinks, authRoutes } from './auth/routes.ts';
import { chatLinks, chatRoutes } from './chat/routes.ts';
import { commandLinks, commandStatusRoutes } from './commands/routes.ts';
import type { Config } from './config.ts';
import type { CommandApiDependencies } from './dependencies.ts';
import { identityRoutes } from './identity/routes.ts';

export const SERVICE = 'command-api';

export async function buildApp({
  config,
  log,
  metrics,
  deps,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  deps: CommandApiDependencies;
}): Promise<FastifyInstance> {
  const app = createHttpServer({
    service: SERVICE,
    log,
    metrics,
    checks: deps.checks,
    bodyLimit: config.HTTP_BODY_LIMIT,
    corsOrigins: config.CORS_ORIGINS ? config.CORS_ORIGINS.split(',') : [],
    trustedProxies: config.TRUST_PROXY,
    keepAliveSeconds: config.HTTP_KEEP_ALIVE_SECONDS,
    rateLimitRedis: deps.redis,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await registerOpenApi(app, { title: 'Parley command API' }, [
    ...chatLinks,
    ...authLinks,
    ...commandLinks,
  ]);
  await registerAuth(app, authOptions(config, deps.revoked));

  app.get('/', { schema: { hide: true } }, async () => ({
    service: SERVICE,
    environment: config.environment,
    docs: '/docs',
  }));
  await app.register(chatRoutes, {
    gateway: deps.gateway,
    cipher: deps.cipher,
    quotas: deps.quotas,
    control: deps.control,
    rateLimitPerMinute: config.WRITE_RATE_LIMIT_PER_MINUTE,
  });
  await app.register(authRoutes, {
    pool: deps.pool,
    gateway: deps.gateway,
    credentials: deps.credentials,
    cipher: deps.cipher,
    tokens: deps.tokens,
    lockout: deps.lockout,
    rateLimitPerMinute: config.AUTH_RATE_LIMIT_PER_MINUTE,
    writeRateLimitPerMinute: config.WRITE_RATE_LIMIT_PER_MINUTE,
  });
  await app.register(identityRoutes, {
    gateway: deps.gateway,
    pool: deps.pool,
    credentials: deps.credentials,
    cipher: deps.cipher,
    dataKeys: deps.dataKeys,
    revoked: deps.revoked,
    lockout: deps.lockout,
    rateLimitPerMinute: config.WRITE_RATE_LIMIT_PER_MINUTE,
  });
  await app.register(commandStatusRoutes, {
    redis: deps.redis,
    guard: deps.redisGuard,
    rateLimitPerMinute: config.WRITE_RATE_LIMIT_PER_MINUTE,
  });
  return app;
}
