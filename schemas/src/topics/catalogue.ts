/**
 * The topic catalogue as code: every topic Parley uses, its partitions, replication and cleanup
 * policy per environment. The bootstrap step creates and reconciles topics from it; brokers never
 * auto-create. docs/architecture.md lists the same topics (a unit test keeps the two in step).
 */
import { type Environment, env } from '@parley/platform/config';

export interface BoundedContext {
  /** Folder name in each service and prefix of its topics. */
  readonly name: string;
  /** The aggregate whose events the context's event topic holds. */
  readonly aggregate: string;
}

/** The list of contexts: adding a context means adding it here and nowhere else centrally. */
export const CONTEXTS: readonly BoundedContext[] = [
  { name: 'identity', aggregate: 'user' },
  { name: 'chat', aggregate: 'conversation' },
];

export const topicSettings = {
  /** Prepended to every topic name; empty unless environments share a cluster. */
  TOPIC_PREFIX: env.matching(/^[A-Za-z0-9._-]{0,100}$/, 'up to 100 of A-Z a-z 0-9 . _ -', {
    default: '',
  }),
  TOPIC_PARTITIONS: env.int(1, 10_000, { default: 12 }),
};

export type TopicRole = 'commands' | 'events' | 'aggregate-state' | 'dead-letters';

export interface TopicSpec {
  readonly name: string;
  readonly role: TopicRole;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Broker-side topic configs; the bootstrap reports any drift from these. */
  readonly config: Readonly<Record<string, string>>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export interface CatalogueOptions {
  environment: Environment;
  /** Partitions of every topic; 12 unless configured (TOPIC_PARTITIONS). */
  partitions: number;
  /** Consumer groups that own a dead-letter topic (`<group>.dlq`). */
  deadLetterGroups?: readonly string[];
  /** TOPIC_PREFIX; none by default. */
  prefix?: string;
}

function durability(environment: Environment) {
  const local = environment === 'dev' || environment === 'test';
  return { replicationFactor: local ? 1 : 3, minInsyncReplicas: local ? '1' : '2' };
}

/**
 * The consumer groups that own a dead-letter topic: one per projection (`projector.<name>`; the
 * projectors check this list against their own in a test). The bootstrap creates their topics.
 */
export const DEAD_LETTER_GROUPS = [
  'projector.users',
  'projector.usage-daily',
  'projector.conversations',
  'projector.views',
] as const;

export const topicNames = {
  commands: (context: BoundedContext) => `${context.name}.commands`,
  events: (context: BoundedContext) => `${context.name}.${context.aggregate}-events`,
  aggregateState: (context: BoundedContext) => `${context.name}.aggregate-state`,
  deadLetters: (group: string) => `${group}.dlq`,
};

/**
 * The same names behind a prefix (TOPIC_PREFIX), for environments that share a cluster and for
 * tests that run the services on topics of their own.
 */
export function prefixedTopicNames(prefix: string): typeof topicNames {
  if (prefix === '') return topicNames;
  return {
    commands: (context) => `${prefix}${topicNames.commands(context)}`,
    events: (context) => `${prefix}${topicNames.events(context)}`,
    aggregateState: (context) => `${prefix}${topicNames.aggregateState(context)}`,
    deadLetters: (group) => `${prefix}${topicNames.deadLetters(group)}`,
  };
}

export function topicCatalogue(options: CatalogueOptions): TopicSpec[] {
  const { replicationFactor, minInsyncReplicas } = durability(options.environment);
  const names = prefixedTopicNames(options.prefix ?? '');
  const base = { partitions: options.partitions, replicationFactor };
  const common = { 'min.insync.replicas': minInsyncReplicas };
  const topics: TopicSpec[] = [];
  for (const context of CONTEXTS) {
    topics.push(
      {
        ...base,
        name: names.commands(context),
        role: 'commands',
        config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
      },
      {
        ...base,
        name: names.events(context),
        role: 'events',
        // The source of truth: never deleted, never compacted.
        config: {
          ...common,
          'cleanup.policy': 'delete',
          'retention.ms': '-1',
          'retention.bytes': '-1',
        },
      },
      {
        ...base,
        name: names.aggregateState(context),
        role: 'aggregate-state',
        config: { ...common, 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' },
      },
    );
  }
  for (const group of options.deadLetterGroups ?? []) {
    topics.push({
      ...base,
      name: names.deadLetters(group),
      role: 'dead-letters',
      config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    });
  }
  return topics;
}
