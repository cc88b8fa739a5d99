/**
 * Keeps the product's status fresh for `GET /v1/status`: every STATUS_POLL_MS it asks each
 * service's `/health/ready` (STATUS_PROBES) and runs the query API's own checks, and keeps the
 * latest answer, so a flood of status requests costs no probe each.
 */
import { checkReadiness, type HealthCheck } from '@parley/platform/health';
import type { Logger } from '@parley/platform/logger';
import { parseServiceUrls } from '@parley/platform/service';
import {
  type ProductStatus,
  productStatus,
  type ServiceReadiness,
  STATUS_SERVICES,
  type StatusService,
} from './product-status.ts';

/** `name=url,name=url`: the readiness endpoint of each service, by name. */
export function parseProbes(text: string): Map<StatusService, URL> {
  const probes = new Map<StatusService, URL>();
  for (const [name, url] of parseServiceUrls(text)) {
    if (!(STATUS_SERVICES as readonly string[]).includes(name) || name === 'query-api') {
      throw new Error(`STATUS_PROBES: unknown service '${name}'`);
    }
    probes.set(name as StatusService, new URL('/health/ready', url));
  }
  return probes;
}

async function probe(url: URL, timeoutMs: number): Promise<ServiceReadiness> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { status?: unknown };
    if (body.status === 'ready' || body.status === 'degraded') return body.status;
    return 'not-ready';
  } catch {
    return 'unreachable';
  }
}

export interface StatusPoller {
  latest(): ProductStatus;
  /** Probes now (the loop does it every interval). */
  refresh(): Promise<ProductStatus>;
  stop(): void;
}

export function startStatusPoller(options: {
  probes: ReadonlyMap<StatusService, URL>;
  ownChecks: readonly HealthCheck[];
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
}): StatusPoller {
  let latest = productStatus({}, new Date());
  const refresh = async () => {
    const [own, ...others] = await Promise.all([
      checkReadiness(options.ownChecks, options.timeoutMs).then((r) => r.status),
      ...[...options.probes].map(
        async ([name, url]) => [name, await probe(url, options.timeoutMs)] as const,
      ),
    ]);
    const next = productStatus({ 'query-api': own, ...Object.fromEntries(others) }, new Date());
    if (next.status !== latest.status) {
      options.log.warn({ status: next.status, parts: next.parts }, 'product status changed');
    }
    latest = next;
    return next;
  };
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    refresh()
      .catch((error: unknown) => options.log.warn({ err: error }, 'status not refreshed'))
      .finally(() => {
        timer = setTimeout(loop, options.intervalMs);
        timer.unref();
      });
  };
  loop();
  return { latest: () => latest, refresh, stop: () => clearTimeout(timer) };
}
