/**
 * Compares the catalogue with the cluster: creates missing topics, and reports drift (a topic with
 * other partitions, replication or configs) instead of ignoring it. Config drift can be repaired
 * on request; partition drift never is, because adding partitions moves keys to other partitions
 * and breaks per-aggregate ordering.
 */
import { type Admin, createTopics } from '@parley/platform/kafka';
import type { TopicSpec } from './catalogue.ts';

export interface Drift {
  topic: string;
  property: string;
  expected: string;
  actual: string;
}

export interface ReconcileReport {
  created: string[];
  unchanged: string[];
  drift: Drift[];
  repaired: Drift[];
}

/** Pure: the differences between what the catalogue wants and what a topic has. */
export function topicDrift(
  spec: TopicSpec,
  actual: {
    partitions: number;
    replicationFactor: number;
    config: Record<string, string | undefined>;
  },
): Drift[] {
  const drift: Drift[] = [];
  if (actual.partitions !== spec.partitions) {
    drift.push({
      topic: spec.name,
      property: 'partitions',
      expected: String(spec.partitions),
      actual: String(actual.partitions),
    });
  }
  if (actual.replicationFactor !== spec.replicationFactor) {
    drift.push({
      topic: spec.name,
      property: 'replication.factor',
      expected: String(spec.replicationFactor),
      actual: String(actual.replicationFactor),
    });
  }
  for (const [key, expected] of Object.entries(spec.config)) {
    const value = actual.config[key];
    if (value !== expected) {
      drift.push({ topic: spec.name, property: key, expected, actual: value ?? '(unset)' });
    }
  }
  return drift;
}

const TOPIC_RESOURCE = 2; // kafkajs ConfigResourceTypes.TOPIC

export async function reconcileTopics(
  admin: Admin,
  catalogue: readonly TopicSpec[],
  options: { repairConfig?: boolean } = {},
): Promise<ReconcileReport> {
  const existing = new Set(await admin.listTopics());
  const missing = catalogue.filter((t) => !existing.has(t.name));
  if (missing.length > 0) {
    await createTopics(
      admin,
      missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    );
  }

  const present = catalogue.filter((t) => existing.has(t.name));
  const report: ReconcileReport = {
    created: missing.map((t) => t.name),
    unchanged: [],
    drift: [],
    repaired: [],
  };
  if (present.length === 0) return report;

  const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((t) => ({
      type: TOPIC_RESOURCE,
      name: t.name,
      configNames: Object.keys(t.config),
    })),
  });

  for (const spec of present) {
    const topic = metadata.topics.find((m) => m.name === spec.name);
    const resource = configs.resources.find((r) => r.resourceName === spec.name);
    const config = Object.fromEntries(
      (resource?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
    );
    const drift = topicDrift(spec, {
      partitions: topic?.partitions.length ?? 0,
      replicationFactor: topic?.partitions[0]?.replicas.length ?? 0,
      config,
    });
    const configDrift = drift.filter((d) => d.property in spec.config);
    if (options.repairConfig && configDrift.length > 0) {
      // AlterConfigs replaces the topic's whole config with the catalogue's: intended, the
      // catalogue is the one source of topic settings.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: TOPIC_RESOURCE,
            name: spec.name,
            configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      report.repaired.push(...configDrift);
      report.drift.push(...drift.filter((d) => !(d.property in spec.config)));
    } else {
      report.drift.push(...drift);
    }
    if (drift.length === 0) report.unchanged.push(spec.name);
  }
  return report;
}
