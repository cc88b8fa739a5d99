/** What the read path does, for dashboards and for tests that count database reads. */
import { Counter, type Registry } from '@parley/platform/metrics';

export function readMetrics(registry: Registry) {
  return {
    /** Reads that reached a database (one per single-flight group). */
    databaseReads: new Counter({
      name: 'query_database_reads_total',
      help: 'Reads that went to a database, by store and read model',
      labelNames: ['store', 'model'],
      registers: [registry],
    }),
    /** How each view read went: hit, miss, behind (older than asked), degraded (Redis down). */
    viewReads: new Counter({
      name: 'query_view_reads_total',
      help: 'Redis view reads by outcome',
      labelNames: ['model', 'outcome'],
      registers: [registry],
    }),
    /** Answers past the read-your-writes bound, marked stale. */
    staleAnswers: new Counter({
      name: 'query_stale_answers_total',
      help: 'Answers that did not reach the version asked for in time',
      labelNames: ['model'],
      registers: [registry],
    }),
  };
}

export type ReadMetrics = ReturnType<typeof readMetrics>;
