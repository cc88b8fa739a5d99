/**
 * Every consumer group that reads this deployment's topics, found from the brokers (not from
 * config): the command processor, each projection generation (a rebuild's too), the identity
 * store sync, the assistant, each projection's redrive group. A group whose consumers all died
 * still has its committed offsets, so it stays on the list and its lag grows. Lag comes from the
 * same loop the services use for their own groups (platform/src/consumer-lag.ts), kept out of
 * this service's /metrics: each service exports its own groups, and counting them twice would
 * double every sum on the dashboards.
 */
import { type LagTarget, type PartitionLag, startLagMonitor } from '@parley/platform/consumer-lag';
import { type Admin, subscribedTopics } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import { Registry } from '@parley/platform/metrics';

export interface GroupState {
  readonly group: string;
  /** The coordinator's word: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  readonly state: string;
  readonly members: number;
}

export interface GroupWatch {
  /** The latest lag of every partition of every group found, and each group's state. */
  latest(): { lag: readonly PartitionLag[]; states: ReadonlyMap<string, GroupState> };
  /** Finds the groups and measures their lag now. */
  refresh(): Promise<void>;
}

export interface GroupWatchOptions {
  admin: Admin;
  /** This deployment's topic names: a group is shown when it committed on one of them. */
  topics: ReadonlySet<string>;
  /** Groups to measure even before they commit anything (the redrive groups). */
  always: () => readonly LagTarget[];
  log: Logger;
}

export function createGroupWatch(options: GroupWatchOptions): GroupWatch {
  /** The groups of ours found last time, with the topics of ours each reads. */
  const known = new Map<string, readonly string[]>();
  let states = new Map<string, GroupState>();
  const targets = (): LagTarget[] => {
    const found = [...known]
      .filter(([, topics]) => topics.length > 0)
      .map(([group, topics]) => ({ group, topics }));
    const listed = new Set(found.map((t) => t.group));
    return [...found, ...options.always().filter((t) => !listed.has(t.group))];
  };
  const lag = startLagMonitor({
    admin: options.admin,
    targets,
    metrics: new Registry(),
    log: options.log,
    // Measured after each discovery (refresh), not by its own timer.
    intervalMs: 3_600_000,
  });
  lag.stop();

  /** Per group: the topics of ours it committed on, looked at when found and now and then. */
  const committed = new Map<string, readonly string[]>();
  let rounds = 0;
  const readCommitted = async (ids: readonly string[]) => {
    const listed = new Set(ids);
    for (const group of committed.keys()) if (!listed.has(group)) committed.delete(group);
    const recheck = rounds++ % 6 === 0;
    for (const groupId of ids) {
      if (committed.has(groupId) && !recheck) continue;
      // Asked about our topics by name (kafkajs cannot ask for "every topic of the group"): a
      // topic with a committed offset on any partition is one the group reads.
      const offsets = await options.admin.fetchOffsets({ groupId, topics: [...options.topics] });
      committed.set(
        groupId,
        offsets.filter((c) => c.partitions.some((p) => Number(p.offset) >= 0)).map((c) => c.topic),
      );
    }
  };
  const discover = async () => {
    const ids = (await options.admin.listGroups()).groups.map((g) => g.groupId);
    await readCommitted(ids);
    // Running groups also say what they subscribe to (one that has not committed yet).
    const described = ids.length > 0 ? (await options.admin.describeGroups(ids)).groups : [];
    const stateOf = (group: string) => {
      const g = described.find((d) => d.groupId === group);
      return { group, state: g?.state ?? 'Empty', members: g?.members.length ?? 0 };
    };
    known.clear();
    for (const g of described) {
      const subscribed = g.members
        .flatMap((m) => subscribedTopics(m.memberMetadata))
        .filter((t) => options.topics.has(t));
      const topics = [...new Set([...(committed.get(g.groupId) ?? []), ...subscribed])];
      if (topics.length > 0) known.set(g.groupId, topics.sort());
    }
    const watched = [...known.keys(), ...options.always().map((t) => t.group)];
    states = new Map(watched.map((group) => [group, stateOf(group)]));
  };

  let failing = false;
  const refresh = async () => {
    try {
      await discover();
      await lag.measure();
      if (failing) options.log.info('ops: consumer groups measured again');
      failing = false;
    } catch (error) {
      if (!failing) options.log.warn({ err: error }, 'ops: consumer groups not measured');
      failing = true;
      throw error;
    }
  };
  return { latest: () => ({ lag: lag.latest(), states }), refresh };
}
