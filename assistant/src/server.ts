/**
 * The assistant reactor's own process (and deployable): the consumer group that answers messages,
 * plus an HTTP port for /health/live, /health/ready and /metrics.
 */
import { createHttpServer } from '@parley/platform/http';
import { runService } from '@parley/platform/run-service';
import { settings } from './config.ts';
import { createDependencies } from './dependencies.ts';

await runService({
  service: 'assistant',
  settings,
  createDependencies,
  buildApp: ({ config, log, metrics, deps }) =>
    createHttpServer({
      service: 'assistant',
      log,
      metrics,
      checks: deps.checks,
      bodyLimit: config.HTTP_BODY_LIMIT,
    }),
});
