/**
 * Readiness checks: each dependency a service needs is a named check; the service is ready when
 * all of them answer within the timeout. Liveness never looks at dependencies, so a database
 * outage makes pods unready (taken out of the load balancer) without restarting them.
 */
export interface HealthCheck {
  /** The dependency's name as ops know it: kafka, schema-registry, postgres, mongodb, redis. */
  readonly name: string;
  readonly check: () => Promise<void>;
  /**
   * False for a dependency the service can serve without, more slowly or partly (the query API
   * without Redis): while it fails the service is `degraded` but stays ready. Default true.
   */
  readonly critical?: boolean;
}

export interface CheckResult {
  status: 'up' | 'down';
  durationMs: number;
  error?: string;
}

export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'not-ready';
  /** Every dependency that did not answer, critical or not. */
  failing: string[];
  checks: Record<string, CheckResult>;
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness(
  checks: readonly HealthCheck[],
  timeoutMs = 2000,
): Promise<ReadinessReport> {
  const entries = await Promise.all(
    checks.map(async ({ name, check }): Promise<[string, CheckResult]> => {
      const started = performance.now();
      try {
        await withTimeout(check(), timeoutMs);
        return [name, { status: 'up', durationMs: Math.round(performance.now() - started) }];
      } catch (error) {
        return [
          name,
          {
            status: 'down',
            durationMs: Math.round(performance.now() - started),
            error: error instanceof Error ? error.message : String(error),
          },
        ];
      }
    }),
  );
  const failing = entries.filter(([, r]) => r.status === 'down').map(([name]) => name);
  const critical = checks.filter((c) => c.critical !== false && failing.includes(c.name));
  return {
    status: critical.length > 0 ? 'not-ready' : failing.length > 0 ? 'degraded' : 'ready',
    failing,
    checks: Object.fromEntries(entries),
  };
}
