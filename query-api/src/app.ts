/**
 * The query API as a Fastify app: platform base (health, metrics, problem+json, helmet, CORS,
 * Redis-backed rate limits), compression, token verification, the OpenAPI document at /docs,
 * and one routes plugin per context. Every route reads for its caller only.
 */
import './fastify-types.ts';
import compress from '@fastify/compress';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { authOptions, registerAuth } from '@parley/platform/auth';
import { createHttpServer } from '@parley/platform/http';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { registerOpenApi } from '@parley/platform/openapi';
import type { FastifyInstance } from 'fastify';
import { eventRoutes } from './chat/events-route.ts';
import { chatLinks, chatRoutes } from './chat/routes.ts';
import type { Config } from './config.ts';
import type { QueryApiDependencies } from './dependencies.ts';
import { identityLinks, identityRoutes } from './identity/routes.ts';
import { statusRoutes } from './status/routes.ts';
import { usageRoutes } from './usage/routes.ts';

export const SERVICE = 'query-api';

export async function buildApp({
  config,
  log,
  metrics,
  deps,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  deps: QueryApiDependencies;
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

  // JSON over 1 KB, gzip or brotli as the client accepts (ADR 0017); event streams are not.
  await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip'] });
  await registerOpenApi(
    app,
    {
      title: 'Parley query API',
      description:
        'Reads for the apps. Responses carry ETag (If-None-Match answers 304), X-Read-Source, ' +
        'X-Degraded when Redis is down, and X-View-Stale when a minimum version asked for was ' +
        'not reached in time.',
    },
    [...chatLinks, ...identityLinks],
  );
  await registerAuth(app, authOptions(config, deps.revoked));

  app.get('/', { schema: { hide: true } }, async () => ({
    service: SERVICE,
    environment: config.environment,
    docs: '/docs',
  }));
  const routeOptions = { reads: deps.reads, rateLimitPerMinute: config.READ_RATE_LIMIT_PER_MINUTE };
  await app.register(identityRoutes, routeOptions);
  await app.register(chatRoutes, routeOptions);
  await app.register(eventRoutes, {
    ...routeOptions,
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    streams: deps.streams,
  });
  await app.register(usageRoutes, routeOptions);
  await app.register(statusRoutes, { status: deps.status });
  return app;
}
