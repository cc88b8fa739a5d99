/**
 * Load generators shared by benchmarks: an open loop (a fixed arrival rate, latency from each
 * job's scheduled start, so a stall counts against every job queued behind it), a closed loop
 * (N workers back to back) and autocannon for plain HTTP reads.
 */
import autocannon from 'autocannon';
import { type Percentiles, percentiles, rate } from './measure.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` when `promise` has not settled in `ms`: a benchmark fails, never hangs. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `job` at a fixed rate for `seconds`; latency counts from each job's scheduled start. */
export async function openLoop(perSec: number, seconds: number, job: () => Promise<boolean>) {
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const total = Math.round(perSec * seconds);
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const scheduled = started + (i * 1000) / perSec;
    const wait = scheduled - performance.now();
    if (wait > 1) await sleep(wait);
    running.push(
      job().then(
        (ok) => {
          if (ok) latencies.push(performance.now() - scheduled);
          else failures += 1;
        },
        () => {
          failures += 1;
        },
      ),
    );
  }
  await Promise.all(running);
  const ms = performance.now() - started;
  return {
    eventsPerSec: rate(latencies.length, ms),
    latencyMs: percentiles(latencies),
    events: latencies.length,
    failures,
  };
}

/** `concurrency` loops doing `job` back to back for `seconds`. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  job: (loop: number) => Promise<number>,
) {
  const latencies: number[] = [];
  let events = 0;
  let failures = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const loop = async (_: unknown, index: number) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const done = await job(index).catch(() => 0);
      if (done > 0) {
        events += done;
        latencies.push(performance.now() - t0);
      } else failures += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const ms = performance.now() - started;
  return {
    concurrency,
    eventsPerSec: rate(events, ms),
    latencyMs: percentiles(latencies),
    events,
    failures,
  };
}

export interface CannonStep {
  connections: number;
  reqPerSec: number;
  latencyMs: Percentiles;
  requests: number;
  /** Answers other than 2xx, by status. */
  non2xx: Record<string, number>;
  errors: number;
  timeouts: number;
}

/**
 * autocannon GETs over `connections` keep-alive connections for `seconds`; `next` gives each
 * request its path and headers. Latencies are every response's own (float ms), not autocannon's
 * whole-millisecond histogram.
 */
export function cannon(options: {
  url: string;
  connections: number;
  seconds: number;
  next: () => { path: string; headers: Record<string, string> };
}): Promise<CannonStep> {
  const latencies: number[] = [];
  const non2xx: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        pipelining: 1,
        requests: [
          { method: 'GET', setupRequest: (request) => ({ ...request, ...options.next() }) },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const ok = latencies.length - Object.values(non2xx).reduce((a, b) => a + b, 0);
        resolve({
          connections: options.connections,
          reqPerSec: Math.round(ok / result.duration),
          latencyMs: percentiles(latencies),
          requests: latencies.length,
          non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status < 200 || status > 299) non2xx[status] = (non2xx[status] ?? 0) + 1;
    });
  });
}
