/**
 * The HTTP APIs built in process without their stores (route handlers use dependencies only when
 * called), and every route each one serves, as Fastify has them: what the docs test and the
 * chart's ingress test compare with.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { loadConfig, type Spec } from '@parley/platform/config';
import { createLogger } from '@parley/platform/logger';
import { createMetricsRegistry } from '@parley/platform/metrics';
import type { FastifyInstance } from 'fastify';

export interface BuiltApi {
  readonly service: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** Every route, method and path as Fastify has them (`/v1/users/:id`). */
  readonly routes: { method: string; path: string }[];
}

/** Routes from Fastify's own route tree (printRoutes without common prefixes). */
export function routesOf(app: FastifyInstance): { method: string; path: string }[] {
  const stack: string[] = [];
  const routes: { method: string; path: string }[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) {
      routes.push({ method, path: stack.join('') });
    }
  }
  return routes;
}

interface AppModule {
  buildApp: (context: {
    config: unknown;
    log: unknown;
    metrics: unknown;
    deps: unknown;
  }) => FastifyInstance | Promise<FastifyInstance>;
}

export async function buildApi(service: string, port: number): Promise<BuiltApi> {
  const { buildApp } = (await import(`../${service}/src/app.ts`)) as AppModule;
  const { settings } = (await import(`../${service}/src/config.ts`)) as { settings: Spec };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const config = loadConfig(settings, {
    source: {
      PARLEY_ENV: 'test',
      JWT_PUBLIC_KEYS: JSON.stringify({ docs: publicKey.export({ type: 'spki', format: 'pem' }) }),
      JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      PII_MASTER_KEY: randomBytes(32).toString('base64'),
    },
  });
  const app = await buildApp({
    config,
    log: createLogger({ service, level: 'silent', environment: 'test' }),
    metrics: createMetricsRegistry(service),
    // Route handlers use their dependencies only when called; none is called here.
    deps: { checks: [], resources: [] },
  });
  await app.ready();
  return { service, port, app, routes: routesOf(app) };
}
