import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { authOptions, registerAuth } from '@parley/platform/auth';
import { createHttpServer } from '@parley/platform/http';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { ProjectorDependencies } from './dependencies.ts';
import { opsRoutes } from './ops/routes.ts';

export const SERVICE = 'projectors';

export async function buildApp({
  config,
  log,
  metrics,
  deps,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  deps: ProjectorDependencies;
}): Promise<FastifyInstance> {
  const app = createHttpServer({
    service: SERVICE,
    log,
    metrics,
    checks: deps.checks,
    bodyLimit: config.HTTP_BODY_LIMIT,
  }).withTypeProvider<TypeBoxTypeProvider>();
  await registerAuth(app, authOptions(config, deps.revoked));
  app.get('/', async () => ({ service: SERVICE, environment: config.environment, ops: '/ops' }));
  await app.register(opsRoutes, {
    watch: deps.ops,
    kafka: deps.kafka,
    serde: deps.serde,
    stores: deps.stores,
    names: deps.names,
    namespace: deps.namespace,
  });
  return app;
}
