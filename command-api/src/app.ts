import { createHttpServer } from '@parley/platform/http';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { CommandApiDependencies } from './dependencies.ts';

export const SERVICE = 'command-api';

export function buildApp({
  config,
  log,
  metrics,
  deps,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  deps: CommandApiDependencies;
}): FastifyInstance {
  const app = createHttpServer({
    service: SERVICE,
    log,
    metrics,
    checks: deps.checks,
    bodyLimit: config.HTTP_BODY_LIMIT,
  });
  app.get('/', async () => ({ service: SERVICE, environment: config.environment }));
  return app;
}
