import type { Logger } from '@parley/platform/logger';
import { Gauge, type Registry } from '@parley/platform/metrics';
import { connectMongo, type Db } from '@parley/platform/mongo';
import { connectPostgres, type Pool } from '@parley/platform/postgres';
import { namespaceOf, usersTable } from '@parley/platform/read-model-names';
import { closeRedis, connectRedis, createRedis, type Redis } from '@parley/platform/redis';
import { type Guard, guard } from '@parley/platform/resilience';
import { RevokedUsers } from '@parley/platform/revocations';
import type { Dependencies } from '@parley/platform/run-service';
import { StreamSlots } from './chat/stream-slots.ts';
import type { Config } from './config.ts';
import { CacheAside } from './read-models/cache-aside.ts';
import { LiveGenerations } from './read-models/live-generations.ts';
import { ProgressHub } from './read-models/progress-hub.ts';
import { type ReadMetrics, readMetrics } from './read-models/read-metrics.ts';
import { ReplyHub } from './read-models/reply-hub.ts';
import { SingleFlight } from './read-models/single-flight.ts';
import { ViewStore } from './read-models/view-store.ts';
import { parseProbes, type StatusPoller, startStatusPoller } from './status/status-poller.ts';

/** How long a Redis command may take before the read falls back to the databases. */
const REDIS_TIMEOUT_MS = 300;
/** A service that does not answer its readiness in this time counts as down in the status. */
const STATUS_PROBE_TIMEOUT_MS = 2_000;

/** What the read routes share: the stores behind their breakers and the read machinery. */
export interface ReadModels {
  readonly namespace: string;
  readonly pool: Pool;
  readonly db: Db;
  readonly redis: Redis;
  readonly guards: { readonly redis: Guard; readonly postgres: Guard; readonly mongo: Guard };
  readonly generations: LiveGenerations;
  readonly store: ViewStore;
  readonly cache: CacheAside;
  readonly hub: ProgressHub;
  /** The assistant's replies as they stream. */
  readonly replies: ReplyHub;
  readonly flight: SingleFlight;
  readonly metrics: ReadMetrics;
  readonly queryCacheTtlSeconds: number;
  readonly viewFillTtlSeconds: number;
  readonly minVersionWaitMs: number;
}

export interface QueryApiDependencies extends Dependencies {
  readonly redis: Redis;
  readonly reads: ReadModels;
  /** Users whose tokens are refused: their account was deactivated or erased (users read model). */
  readonly revoked: RevokedUsers;
  /** The product's status for `GET /v1/status`, probed in the background. */
  readonly status: StatusPoller;
  /** The event streams open on this instance, a few per user. */
  readonly streams: StreamSlots;
}

export function createDependencies({
  config,
  log,
  metrics,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
}): QueryApiDependencies {
  const postgres = connectPostgres(config, 'query-api');
  const mongo = connectMongo(config, 'query-api');
  // Redis is a cache here: a short timeout (enforced by the client) and no retry, the
  // databases answer instead.
  const redis = connectRedis(config, 'query-api', { commandTimeoutMs: REDIS_TIMEOUT_MS });
  // A subscribed connection can do nothing else: progress arrives on its own.
  const subscriber = createRedis({
    url: config.REDIS_URL,
    password: config.REDIS_PASSWORD,
    connectionName: 'query-api.progress',
  });
  const namespace = namespaceOf(config.TOPIC_PREFIX);
  // The breaker alone: the client times commands out, and the databases stand in for a retry.
  const redisGuard = guard({
    code: 'VIEWS_UNAVAILABLE',
    detail: 'Cached views cannot be read right now',
    attempts: 1,
    breakAfter: 5,
    halfOpenAfterMs: 5_000,
    report: { registry: metrics, dependency: 'redis' },
  });
  const postgresGuard = guard({
    code: 'POSTGRES_UNAVAILABLE',
    detail: 'Profiles and usage cannot be read right now; retry shortly',
    timeoutMs: 2_500,
    attempts: 2,
    breakAfter: 5,
    halfOpenAfterMs: 10_000,
    report: { registry: metrics, dependency: 'postgres' },
  });
  const mongoGuard = guard({
    code: 'MONGODB_UNAVAILABLE',
    detail: 'Conversations cannot be read right now; retry shortly',
    timeoutMs: 2_500,
    attempts: 2,
    breakAfter: 5,
    halfOpenAfterMs: 10_000,
    report: { registry: metrics, dependency: 'mongodb' },
  });
  const hub = new ProgressHub(subscriber, namespace);
  hub.start();
  const store = new ViewStore(redis.redis);
  const flight = new SingleFlight();
  const read = readMetrics(metrics);
  const generations = new LiveGenerations({
    pool: postgres.pool,
    guard: postgresGuard,
    namespace,
    cacheMs: config.GENERATION_CACHE_MS,
    log,
  });
  const revoked = new RevokedUsers({
    source: async (windowSeconds) => {
      const table = usersTable({ namespace, number: await generations.of('users') });
      const { rows } = await postgres.pool.query<{ user_id: string }>(
        `select user_id from ${table}
         where status <> 'active' and updated_at > now() - make_interval(secs => $1)`,
        [windowSeconds],
      );
      return rows.map((r) => r.user_id);
    },
    windowSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    pollMs: config.REVOCATION_POLL_MS,
    log,
    metrics,
  });
  void revoked.start();
  // Each route degrades on its own (Redis down: reads from the databases; a database down:
  // 503 on the routes that need it), and every replica shares these stores, so none of them
  // takes a replica out of the load balancer: readiness reports them as `degraded`.
  const checks = [redis.check, postgres.check, mongo.check].map((c) => ({ ...c, critical: false }));
  const status = startStatusPoller({
    probes: parseProbes(config.STATUS_PROBES),
    ownChecks: checks,
    intervalMs: config.STATUS_POLL_MS,
    timeoutMs: STATUS_PROBE_TIMEOUT_MS,
    log,
  });
  const streams = new StreamSlots(config.SSE_MAX_STREAMS_PER_USER);
  new Gauge({
    name: 'query_event_streams_open',
    help: 'Server-Sent Event streams open on this instance',
    registers: [metrics],
    collect() {
      this.set(streams.total);
    },
  });
  return {
    revoked,
    status,
    streams,
    redis: redis.redis,
    reads: {
      namespace,
      pool: postgres.pool,
      db: mongo.mongo.db(),
      redis: redis.redis,
      guards: { redis: redisGuard, postgres: postgresGuard, mongo: mongoGuard },
      generations,
      store,
      cache: new CacheAside({
        store,
        redisGuard,
        flight,
        ttlSeconds: config.VIEW_FILL_TTL_SECONDS,
        metrics: read,
      }),
      hub,
      replies: new ReplyHub(subscriber, redis.redis, namespace),
      flight,
      metrics: read,
      queryCacheTtlSeconds: config.QUERY_CACHE_TTL_SECONDS,
      viewFillTtlSeconds: config.VIEW_FILL_TTL_SECONDS,
      minVersionWaitMs: config.MIN_VERSION_WAIT_MS,
    },
    checks,
    resources: [
      { name: 'status-poller', close: async () => status.stop() },
      { name: 'revoked-users', close: async () => revoked.stop() },
      { name: 'progress-subscriber', close: () => closeRedis(subscriber) },
      redis.resource,
      postgres.resource,
      mongo.resource,
    ],
  };
}
