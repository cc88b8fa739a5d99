/** Metrics per projection and partition, on the projector's /metrics. */
import { Counter, Gauge, Histogram, type Registry } from '@parley/platform/metrics';

export function projectionMetrics(registry: Registry) {
  const labels = ['projection', 'generation', 'topic', 'partition'];
  return {
    applied: new Counter({
      name: 'projection_events_applied_total',
      help: 'Events applied to a read model',
      labelNames: labels,
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'projection_batch_duration_seconds',
      help: 'Time to apply one batch',
      labelNames: ['projection'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    delaySeconds: new Histogram({
      name: 'projection_end_to_end_delay_seconds',
      help: 'From the event (occurredAt) to applied',
      labelNames: ['projection'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'projection_dead_letters_total',
      help: 'Records sent to the dead-letter topic',
      labelNames: ['projection', 'topic'],
      registers: [registry],
    }),
    rebuildProgress: new Gauge({
      name: 'projection_rebuild_progress_ratio',
      help: 'Share of the topics a rebuild has applied (0..1)',
      labelNames: ['projection', 'generation'],
      registers: [registry],
    }),
  };
}

export type ProjectionMetrics = ReturnType<typeof projectionMetrics>;
