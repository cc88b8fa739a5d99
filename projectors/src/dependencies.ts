import { type LagMonitor, startLagMonitor } from '@parley/platform/consumer-lag';
import { connectKafka, createProducer, type Kafka, type Producer } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { connectMongo } from '@parley/platform/mongo';
import { DataKeyStore, PersonalDataCipher, parseMasterKey } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { connectRedis } from '@parley/platform/redis';
import { RevokedUsers } from '@parley/platform/revocations';
import type { Dependencies } from '@parley/platform/run-service';
import { connectSchemaRegistry } from '@parley/platform/schema-registry';
import { parseServiceUrls } from '@parley/platform/service';
import { consumersCheck } from '@parley/platform/supervised-consumer';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { prefixedTopicNames, type topicNames } from '@parley/schemas/topics/catalogue';
import type { Config, StoreConfig } from './config.ts';
import { type OpsWatch, startOpsWatch } from './ops/ops-watch.ts';
import type { RebuildView } from './ops/overview.ts';
import { projectionNamed } from './read-models/index.ts';
import { inactiveUsersSince, usersProjection } from './read-models/users/projection.ts';
import { currentGeneration } from './runtime/generations.ts';
import { type ProjectionMetrics, projectionMetrics } from './runtime/metrics.ts';
import { groupOf, type Projection, redriveGroupOf, type Stores } from './runtime/projection.ts';
import { type Supervisor, startSupervisor } from './runtime/supervisor.ts';

export interface ProjectorDependencies extends Dependencies {
  kafka: Kafka;
  stores: Stores;
  serde: AvroSerde;
  supervisor: Supervisor;
  lag: LagMonitor;
  names: typeof topicNames;
  namespace: string;
  ops: OpsWatch;
  revoked: RevokedUsers;
}

/** The stores, clients and serde a projector (or the projector CLI) works with. */
export function connectStores(config: StoreConfig, log: Logger, name: string) {
  const kafka = connectKafka(config, name, log);
  const registry = connectSchemaRegistry(config);
  const postgres = connectPostgres(config, name);
  const mongo = connectMongo(config, name);
  const redis = connectRedis(config, name);
  const stores: Stores = {
    pool: postgres.pool,
    mongo: mongo.mongo,
    redis: redis.redis,
    cipher: new PersonalDataCipher(
      new DataKeyStore(postgres.pool, parseMasterKey(config.PII_MASTER_KEY)),
    ),
  };
  return {
    kafka,
    stores,
    serde: new AvroSerde(registry.registry, loadSchemaSet()),
    checks: [kafka.check, registry.check, postgres.check, mongo.check, redis.check],
    resources: [kafka.resource, postgres.resource, mongo.resource, redis.resource],
  };
}

/**
 * What the runner, the supervisor and a rebuild share: the connected clients and stores plus the
 * producer for dead letters, the topic names, the logger and the metrics.
 */
export function projectorContext(
  connected: ReturnType<typeof connectStores>,
  extras: { producer: Producer; names: typeof topicNames; log: Logger; metrics: ProjectionMetrics },
) {
  return {
    kafka: connected.kafka.kafka,
    admin: connected.kafka.admin,
    serde: connected.serde,
    stores: connected.stores,
    ...extras,
  };
}

export async function createDependencies({
  config,
  log,
  metrics,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
}): Promise<ProjectorDependencies> {
  const connected = connectStores(config, log, 'projectors');
  const producer = createProducer(connected.kafka.kafka, { idempotent: true });
  await producer.connect();
  const projections = config.PROJECTIONS.split(',').flatMap((n) => {
    const p = projectionNamed(n);
    return p ? [p] : ([] as Projection[]);
  });
  const names = prefixedTopicNames(config.TOPIC_PREFIX);
  const namespace = namespaceOf(config.TOPIC_PREFIX);
  const measures = projectionMetrics(metrics);
  const supervisor = await startSupervisor({
    ...projectorContext(connected, {
      producer,
      names,
      log,
      metrics: measures,
    }),
    projections,
    namespace,
    pollMs: config.PROJECTOR_GENERATION_POLL_MS,
    registry: metrics,
  });
  // Measured from the brokers, so a projection whose consumer died shows a lag that grows. The
  // redrive groups' lag on the dead-letter topics is the dead letters waiting.
  const redrives = projections.map((p) => ({
    group: redriveGroupOf(p),
    topics: [names.deadLetters(groupOf(p))],
  }));
  const lag = startLagMonitor({
    admin: connected.kafka.admin,
    targets: () => [
      ...supervisor.groups().map(({ group, topics }) => ({ group, topics })),
      ...redrives,
    ],
    metrics,
    log,
    intervalMs: config.CONSUMER_LAG_INTERVAL_MS,
  });
  const checks = [...connected.checks, consumersCheck('projections', () => supervisor.statuses())];
  const ops = startOpsWatch({
    admin: connected.kafka.admin,
    pool: connected.stores.pool,
    projections,
    names,
    namespace,
    fleet: {
      probes: parseServiceUrls(config.OPS_PROBES),
      self: { name: 'projectors', checks, metrics },
      timeoutMs: 2_000,
    },
    intervalMs: config.OPS_POLL_MS,
    log,
    // A rebuild runs in its own short-lived CLI process nobody scrapes: its progress is exported
    // here, measured from its consumer group, while it is in progress.
    onRebuilds: exportRebuildProgress(measures),
  });
  // The ops API's tokens: those of accounts deactivated or erased are refused within seconds.
  const usersKey = pointerKey(namespace, usersProjection.name);
  const revoked = new RevokedUsers({
    source: async (windowSeconds) => {
      const number = await currentGeneration(connected.stores.pool, usersKey);
      if (number === undefined) return [];
      const generation = { projection: usersKey, number, namespace };
      return inactiveUsersSince(connected.stores.pool, generation, windowSeconds);
    },
    windowSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    pollMs: config.REVOCATION_POLL_MS,
    log,
    metrics,
  });
  void revoked.start();
  return {
    kafka: connected.kafka.kafka,
    stores: connected.stores,
    serde: connected.serde,
    supervisor,
    lag,
    names,
    namespace,
    ops,
    revoked,
    checks,
    resources: [
      { name: 'ops', close: async () => ops.stop() },
      { name: 'revoked-users', close: async () => revoked.stop() },
      { name: 'consumer-lag', close: async () => lag.stop() },
      { name: 'projections', close: () => supervisor.stop() },
      { name: 'dead-letter-producer', close: () => producer.disconnect() },
      ...connected.resources,
    ],
  };
}

/** Sets `projection_rebuild_progress_ratio` for the rebuilds in progress, dropping finished ones. */
function exportRebuildProgress(measures: ProjectionMetrics) {
  let shown = new Map<string, { projection: string; generation: string }>();
  return (rebuilds: readonly RebuildView[]) => {
    const now = new Map(
      rebuilds.map((r) => {
        const labels = { projection: r.projection, generation: String(r.generation) };
        measures.rebuildProgress.set(labels, r.progress);
        return [`${labels.projection}:${labels.generation}` as string, labels] as const;
      }),
    );
    for (const [key, labels] of shown) if (!now.has(key)) measures.rebuildProgress.remove(labels);
    shown = now;
  };
}
