/**
 * Consumer lag measured from outside the consumers: a loop asks the brokers for each group's
 * committed offsets and each partition's head (the last stable offset, as read_committed readers
 * see it), so a consumer that died shows as lag that grows instead of a gauge frozen at its last
 * batch. Lag in seconds is interpolated from the head offsets this loop has seen over time (as
 * kafka-lag-exporter does): how long ago the head was where the group is now. It needs no record
 * reads; right after a start it can only say "at least as old as the first sample".
 */
import type { Admin } from 'kafkajs';
import { env } from './config.ts';
import type { Logger } from './logger.ts';
import { Gauge, type Registry } from './metrics.ts';

export const consumerLagSettings = {
  /** How often every consumer group's lag is measured (from the brokers, not the consumers). */
  CONSUMER_LAG_INTERVAL_MS: env.int(500, 300_000, { default: 5_000 }),
};

export interface LagTarget {
  /** The consumer group, e.g. `projector.users.g2` or `command-processor`. */
  readonly group: string;
  readonly topics: readonly string[];
}

export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** The partition's head (last stable offset) when measured. */
  readonly head: number;
  /** Records at the head not yet consumed (committed offset to last stable offset). */
  readonly events: number;
  /** How long ago the head was where the group's committed offset is now (0 when caught up). */
  readonly seconds: number;
}

/** Samples of (time, head offset) per partition, oldest first, bounded in count. */
export class HeadHistory {
  private readonly samples = new Map<string, Array<[number, number]>>();

  constructor(private readonly maxSamples = 720) {}

  record(key: string, at: number, head: number): void {
    let list = this.samples.get(key);
    if (!list) {
      list = [];
      this.samples.set(key, list);
    }
    const last = list.at(-1);
    // A head that did not move needs no new point: the earlier one keeps the older time.
    if (last && last[1] === head) return;
    list.push([at, head]);
    if (list.length > this.maxSamples) list.splice(0, list.length - this.maxSamples);
  }

  /**
   * When the head first went past `offset` (the time the record at `offset` was written, at the
   * resolution of the samples): interpolated between the two samples around it. The oldest
   * sample's time when the offset is older than every sample.
   */
  timeOf(key: string, offset: number): number | undefined {
    const list = this.samples.get(key);
    if (!list || list.length === 0) return undefined;
    const first = list[0] as [number, number];
    if (offset < first[1]) return first[0];
    for (let i = 1; i < list.length; i++) {
      const [t1, o1] = list[i] as [number, number];
      if (o1 > offset) {
        const [t0, o0] = list[i - 1] as [number, number];
        return t0 + ((t1 - t0) * (offset + 1 - o0)) / (o1 - o0);
      }
    }
    return undefined;
  }
}

/** Lag of one partition from its head and its committed offset (-1: nothing committed yet). */
export function partitionLag(
  head: number,
  low: number,
  committed: number,
  now: number,
  headTimeOf: (offset: number) => number | undefined,
): { events: number; seconds: number } {
  const position = committed < 0 ? low : committed;
  const events = Math.max(0, head - position);
  if (events === 0) return { events, seconds: 0 };
  const at = headTimeOf(position);
  return { events, seconds: at === undefined ? 0 : Math.max(0, (now - at) / 1000) };
}

export interface LagMonitorOptions {
  admin: Admin;
  targets: () => readonly LagTarget[];
  /** Where the gauges go; a registry nobody scrapes for a loop that only serves `latest()`. */
  metrics: Registry;
  log: Logger;
  intervalMs: number;
}

export interface LagMonitor {
  /** The latest measurement. */
  latest(): readonly PartitionLag[];
  /** Measures now (also what the loop does every interval). */
  measure(): Promise<readonly PartitionLag[]>;
  stop(): void;
}

export function startLagMonitor(options: LagMonitorOptions): LagMonitor {
  const labels = ['group', 'topic', 'partition'];
  const eventsGauge = new Gauge({
    name: 'kafka_consumer_group_lag_events',
    help: 'Records at the head of a partition not yet consumed by the group (read_committed)',
    labelNames: labels,
    registers: [options.metrics],
  });
  const secondsGauge = new Gauge({
    name: 'kafka_consumer_group_lag_seconds',
    help: 'How long ago the head of the partition was where the group is now',
    labelNames: labels,
    registers: [options.metrics],
  });
  const measuredAt = new Gauge({
    name: 'kafka_consumer_group_lag_measured_timestamp_seconds',
    help: 'When the lag of the group was last measured (stale when the brokers do not answer)',
    labelNames: ['group'],
    registers: [options.metrics],
  });
  const history = new HeadHistory();
  let latest: PartitionLag[] = [];
  let failing = false;
  let measuring: Promise<PartitionLag[]> | undefined;
  /** Label sets written last time, so a group no longer watched (an old generation) goes away. */
  let written = new Map<string, { group: string; topic: string; partition: string }>();

  /** Removes the gauges of what was measured last time and is no longer watched. */
  const forgetUnwatched = (seen: ReadonlyMap<string, { group: string }>) => {
    for (const [key, l] of written) {
      if (seen.has(key)) continue;
      eventsGauge.remove(l);
      secondsGauge.remove(l);
      if (![...seen.values()].some((s) => s.group === l.group))
        measuredAt.remove({ group: l.group });
    }
  };

  const measureOnce = async (): Promise<PartitionLag[]> => {
    const targets = options.targets();
    const now = Date.now();
    const heads = new Map<string, Array<{ partition: number; high: number; low: number }>>();
    const headsOf = async (topic: string) => {
      let found = heads.get(topic);
      if (!found) {
        const offsets = await options.admin.fetchTopicOffsets(topic);
        found = offsets.map((o) => ({
          partition: o.partition,
          high: Number(o.high),
          low: Number(o.low),
        }));
        heads.set(topic, found);
        for (const h of found) history.record(`${topic}:${h.partition}`, now, h.high);
      }
      return found;
    };
    const result: PartitionLag[] = [];
    const seen = new Map<string, { group: string; topic: string; partition: string }>();
    const measureTarget = async (target: LagTarget) => {
      const committed = await options.admin.fetchOffsets({
        groupId: target.group,
        topics: [...target.topics],
      });
      for (const { topic, partitions } of committed) {
        const byPartition = new Map(partitions.map((p) => [p.partition, Number(p.offset)]));
        for (const head of await headsOf(topic)) {
          const key = `${topic}:${head.partition}`;
          const lag = partitionLag(
            head.high,
            head.low,
            byPartition.get(head.partition) ?? -1,
            now,
            (offset) => history.timeOf(key, offset),
          );
          result.push({
            group: target.group,
            topic,
            partition: head.partition,
            head: head.high,
            ...lag,
          });
          const l = { group: target.group, topic, partition: String(head.partition) };
          seen.set(`${target.group}|${key}`, l);
          eventsGauge.set(l, lag.events);
          secondsGauge.set(l, lag.seconds);
        }
      }
      measuredAt.set({ group: target.group }, now / 1000);
    };
    // One group the brokers cannot answer for (a topic not created yet) leaves the others measured;
    // its own measurement goes stale, and the first error is thrown once all were tried.
    const errors: unknown[] = [];
    for (const target of targets) {
      try {
        await measureTarget(target);
      } catch (error) {
        errors.push(error);
        for (const [key, l] of written) if (l.group === target.group) seen.set(key, l);
      }
    }
    forgetUnwatched(seen);
    written = seen;
    latest = result;
    if (errors.length > 0) throw errors[0];
    return result;
  };
  const measure = () => {
    measuring ??= measureOnce().finally(() => {
      measuring = undefined;
    });
    return measuring;
  };

  const timer = setInterval(() => {
    measure().then(
      () => {
        if (failing) options.log.info('consumer lag measured again');
        failing = false;
      },
      (error: unknown) => {
        if (!failing) options.log.warn({ err: error }, 'consumer lag not measured');
        failing = true;
      },
    );
  }, options.intervalMs);
  timer.unref();

  return {
    latest: () => latest,
    measure,
    stop: () => clearInterval(timer),
  };
}
