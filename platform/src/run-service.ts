/**
 * Starts a service process: config (fails fast, naming bad variables), logger, metrics, the
 * service's dependencies, its HTTP app, then graceful shutdown on SIGTERM/SIGINT.
 * Each service's server.ts is a call to this; its app.ts stays testable without a process.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, type ConfigOf, type Loaded, loadConfig, type Spec } from './config.ts';
import type { HealthCheck } from './health.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetricsRegistry, type Registry } from './metrics.ts';
import type { serviceSettings } from './service.ts';
import { type Closable, exitOnSignals } from './shutdown.ts';

type ServiceSpec = Spec & ReturnType<typeof serviceSettings>;
type ServiceConfig = ConfigOf<ReturnType<typeof serviceSettings>>;

export interface Dependencies {
  readonly checks: readonly HealthCheck[];
  /** Closed after the HTTP server, in this order. */
  readonly resources: readonly Closable[];
}

export interface ServiceDefinition<S extends ServiceSpec, D extends Dependencies> {
  service: string;
  settings: S;
  createDependencies: (context: {
    config: Loaded<S>;
    log: Logger;
    metrics: Registry;
  }) => Promise<D> | D;
  buildApp: (context: {
    config: Loaded<S>;
    log: Logger;
    metrics: Registry;
    deps: D;
  }) => Promise<FastifyInstance> | FastifyInstance;
}

export async function runService<S extends ServiceSpec, D extends Dependencies>(
  definition: ServiceDefinition<S, D>,
): Promise<FastifyInstance> {
  let config: Loaded<S>;
  try {
    config = loadConfig(definition.settings);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.service}: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const base = config as unknown as ServiceConfig;
  const log = createLogger({
    service: definition.service,
    level: base.LOG_LEVEL,
    environment: config.environment,
  });
  // Before any client exists, so every span has somewhere to go; the SDK only when asked for.
  const tracing = base.OTEL_EXPORTER_OTLP_ENDPOINT
    ? (await import('./tracing-sdk.ts')).startTracing({
        service: definition.service,
        endpoint: base.OTEL_EXPORTER_OTLP_ENDPOINT,
      })
    : undefined;
  const metrics = createMetricsRegistry(definition.service);
  const deps = await definition.createDependencies({ config, log, metrics });
  const app = await definition.buildApp({ config, log, metrics, deps });
  exitOnSignals(
    [
      { name: 'http', close: () => app.close() },
      ...deps.resources,
      ...(tracing ? [{ name: 'tracing', close: () => tracing.shutdown() }] : []),
    ],
    log,
  );
  await app.listen({ host: base.HTTP_HOST, port: base.HTTP_PORT });
  return app;
}
