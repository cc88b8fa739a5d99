/**
 * Builds the query API in process (Fastify inject, or listening on a free port for event
 * streams), configured from the environment plus `env`, and closes it after.
 */

import assert from 'node:assert/strict';
import { loadConfig } from '@parley/platform/config';
import { createMetricsRegistry, type Registry } from '@parley/platform/metrics';
import { recordAnswers } from '@parley/platform/testing/contract';
import { parseEventStream, type StreamEvent } from '@parley/platform/testing/event-stream';
import { quietLogger } from '@parley/platform/testing/fixtures';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { settings } from '../src/config.ts';
import { createDependencies, type QueryApiDependencies } from '../src/dependencies.ts';

export interface QueryApi {
  app: FastifyInstance;
  deps: QueryApiDependencies;
  metrics: Registry;
  close: () => Promise<void>;
}

export async function startQueryApi(env: Record<string, string>): Promise<QueryApi> {
  const config = loadConfig(settings, { source: { ...process.env, ...env } });
  const log = quietLogger();
  const metrics = createMetricsRegistry('query-api');
  const deps = createDependencies({ config, log, metrics });
  const app = await buildApp({ config, log, metrics, deps });
  // Every answer is held to the OpenAPI document when the API closes.
  const contract = recordAnswers(app);
  return {
    app,
    deps,
    metrics,
    close: async () => {
      const violations = contract.violations();
      await app.close();
      for (const r of deps.resources) await r.close().catch(() => {});
      assert.deepEqual(violations, [], 'answers the OpenAPI document lacks');
    },
  };
}

/** The value of a counter in the registry, summed over the labels given. */
export async function counterValue(
  metrics: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Opens an event stream with fetch; `next(n)` resolves once n events have arrived. */
export async function openEventStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  const events: StreamEvent[] = [];
  let buffer = '';
  let pending: ReturnType<typeof reader.read> | undefined;
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    async next(count: number) {
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseEventStream(buffer + decoder.decode(value, { stream: true }));
        events.push(...parsed.events);
        buffer = parsed.rest;
      }
      return events;
    },
    /** Reads until the events so far satisfy `done`, at most `ms`; resolves with them. */
    async waitFor(done: (events: StreamEvent[]) => boolean, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!done(events)) {
        if (Date.now() > deadline) {
          throw new Error(`stream: not seen in ${ms} ms (${events.length} events)`);
        }
        // One read in flight at a time: one that outlives a wait is taken up by the next.
        pending ??= reader.read();
        const read = await Promise.race([
          pending,
          new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 250)),
        ]);
        if (read === 'waiting') continue;
        pending = undefined;
        if (read.done) throw new Error(`stream ended (${events.length} events)`);
        const parsed = parseEventStream(buffer + decoder.decode(read.value, { stream: true }));
        events.push(...parsed.events);
        buffer = parsed.rest;
      }
      return events;
    },
    close: () => controller.abort(),
  };
}

export type { StreamEvent };
