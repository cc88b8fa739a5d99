/**
 * What the ops page shows, put together from measurements (pure, so it is specified by unit
 * tests): each consumer group's lag in events and seconds, per partition and in total; the dead
 * letters waiting per projection; the rebuilds in progress with their progress.
 */
import type { PartitionLag } from '@parley/platform/consumer-lag';
import type { GroupState } from './consumer-groups.ts';
import type { ServiceHealth } from './fleet.ts';

export interface GroupView {
  readonly group: string;
  /** Coordinator state; `Empty` means no consumer is running in the group. */
  readonly state: string;
  readonly members: number;
  readonly lagEvents: number;
  /** The oldest partition's lag in seconds. */
  readonly lagSeconds: number;
  readonly partitions: ReadonlyArray<{
    topic: string;
    partition: number;
    lagEvents: number;
    lagSeconds: number;
  }>;
}

export interface DeadLettersView {
  readonly projection: string;
  readonly topic: string;
  readonly waiting: number;
}

export interface BuildRecord {
  readonly projection: string;
  readonly generation: number;
  readonly startedAt: string;
  /** The build's consumer group. */
  readonly group: string;
}

export interface RebuildView extends BuildRecord {
  /** Share of the topics' records the build has consumed (0..1). */
  readonly progress: number;
  readonly remainingEvents: number;
  /** False when no consumer is in the build's group: the rebuild died, or has not joined yet. */
  readonly running: boolean;
}

export interface Overview {
  readonly generatedAt: string;
  readonly services: readonly ServiceHealth[];
  readonly groups: readonly GroupView[];
  readonly deadLetters: readonly DeadLettersView[];
  readonly rebuilds: readonly RebuildView[];
}

const round = (seconds: number) => Math.round(seconds * 10) / 10;

export function groupViews(
  lag: readonly PartitionLag[],
  states: ReadonlyMap<string, GroupState>,
): GroupView[] {
  const byGroup = new Map<string, PartitionLag[]>();
  for (const p of lag) byGroup.set(p.group, [...(byGroup.get(p.group) ?? []), p]);
  return [...byGroup]
    .map(([group, partitions]) => ({
      group,
      state: states.get(group)?.state ?? 'Unknown',
      members: states.get(group)?.members ?? 0,
      lagEvents: partitions.reduce((sum, p) => sum + p.events, 0),
      lagSeconds: round(Math.max(0, ...partitions.map((p) => p.seconds))),
      partitions: partitions
        .map((p) => ({
          topic: p.topic,
          partition: p.partition,
          lagEvents: p.events,
          lagSeconds: round(p.seconds),
        }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    }))
    .sort((a, b) => a.group.localeCompare(b.group));
}

/** The dead letters waiting: each projection's redrive group's lag on its dead-letter topic. */
export function deadLettersWaiting(
  projections: ReadonlyArray<{ projection: string; group: string; topic: string }>,
  lag: readonly PartitionLag[],
): DeadLettersView[] {
  return projections.map(({ projection, group, topic }) => ({
    projection,
    topic,
    waiting: lag
      .filter((p) => p.group === group && p.topic === topic)
      .reduce((sum, p) => sum + p.events, 0),
  }));
}

/** Builds not yet switched to, with how far their group has read. */
export function rebuildsInProgress(
  builds: readonly BuildRecord[],
  lag: readonly PartitionLag[],
  states: ReadonlyMap<string, GroupState>,
): RebuildView[] {
  return builds.map((build) => {
    const partitions = lag.filter((p) => p.group === build.group);
    const heads = partitions.reduce((sum, p) => sum + p.head, 0);
    const remainingEvents = partitions.reduce((sum, p) => sum + p.events, 0);
    const state = states.get(build.group);
    return {
      ...build,
      progress: heads > 0 ? Math.round(((heads - remainingEvents) / heads) * 1000) / 1000 : 0,
      remainingEvents,
      running: (state?.members ?? 0) > 0,
    };
  });
}
