/**
 * Each service's readiness and breakers, as the ops page shows them: its `/health/ready` report
 * and the `circuit_breaker_state` series of its `/metrics`, asked every OPS_POLL_MS (so a page
 * left open costs the services nothing more). This process answers for itself without HTTP.
 */
import { checkReadiness, type HealthCheck, type ReadinessReport } from '@parley/platform/health';
import type { Registry } from '@parley/platform/metrics';

export type BreakerState = 'closed' | 'half-open' | 'open';

export interface ServiceHealth {
  readonly name: string;
  /** `unreachable` when the service did not answer at all. */
  readonly status: ReadinessReport['status'] | 'unreachable';
  readonly failing: readonly string[];
  readonly breakers: ReadonlyArray<{ dependency: string; state: BreakerState }>;
}

const BREAKER_LINE = /^circuit_breaker_state\{([^}]*)\}\s+(\S+)/;
const DEPENDENCY_LABEL = /(?:^|,)dependency="((?:[^"\\]|\\.)*)"/;

/** The breaker states in a Prometheus text exposition (0 closed, 0.5 half-open, 1 open). */
export function breakersIn(exposition: string): ServiceHealth['breakers'] {
  const breakers: Array<{ dependency: string; state: BreakerState }> = [];
  for (const line of exposition.split('\n')) {
    const match = BREAKER_LINE.exec(line);
    const dependency = match?.[1] ? DEPENDENCY_LABEL.exec(match[1])?.[1] : undefined;
    if (!match || dependency === undefined) continue;
    const value = Number(match[2]);
    breakers.push({
      dependency,
      state: value >= 1 ? 'open' : value > 0 ? 'half-open' : 'closed',
    });
  }
  return breakers.sort((a, b) => a.dependency.localeCompare(b.dependency));
}

function healthOf(name: string, report: unknown, exposition: string): ServiceHealth {
  const r = report as Partial<ReadinessReport> | undefined;
  const status =
    r?.status === 'ready' || r?.status === 'degraded' || r?.status === 'not-ready'
      ? r.status
      : 'unreachable';
  const failing = Array.isArray(r?.failing) ? r.failing.filter((f) => typeof f === 'string') : [];
  return { name, status, failing, breakers: breakersIn(exposition) };
}

async function probe(name: string, base: URL, timeoutMs: number): Promise<ServiceHealth> {
  const get = (path: string) =>
    fetch(new URL(path, base), { signal: AbortSignal.timeout(timeoutMs) });
  try {
    const [ready, metrics] = await Promise.all([
      // Not ready answers 503 with the same report.
      get('/health/ready').then((r) => r.json() as Promise<unknown>),
      get('/metrics').then((r) => (r.ok ? r.text() : '')),
    ]);
    return healthOf(name, ready, metrics);
  } catch {
    return { name, status: 'unreachable', failing: [], breakers: [] };
  }
}

export interface FleetOptions {
  /** The other services by name (this one left out). */
  probes: ReadonlyMap<string, URL>;
  self: { name: string; checks: readonly HealthCheck[]; metrics: Registry };
  timeoutMs: number;
}

export async function fleetHealth(options: FleetOptions): Promise<ServiceHealth[]> {
  const own = async () =>
    healthOf(
      options.self.name,
      await checkReadiness(options.self.checks, options.timeoutMs),
      await options.self.metrics.metrics(),
    );
  const others = [...options.probes]
    .filter(([name]) => name !== options.self.name)
    .map(([name, url]) => probe(name, url, options.timeoutMs));
  const all = await Promise.all([own(), ...others]);
  return all.sort((a, b) => a.name.localeCompare(b.name));
}
