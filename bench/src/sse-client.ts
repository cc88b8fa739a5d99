/**
 * A small Server-Sent Events client for the benchmarks: reads a stream with fetch and hands out
 * its events in order; `next(match)` resolves with the first event after the last one handed out
 * that matches (skipping the others).
 */
import { parseEventStream } from '@parley/platform/testing/event-stream';

export interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown> & { replyId?: string; replyTo?: string; reason?: string };
}

export async function openSse(url: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  let ended = false;
  if (res.status === 200 && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseEventStream(buffer + decoder.decode(value, { stream: true }));
          // Every event the query API sends has a name and JSON data.
          events.push(...(parsed.events as SseEvent[]));
          buffer = parsed.rest;
          wake?.();
        }
      } catch {
        // Closed by the benchmark.
      } finally {
        ended = true;
        wake?.();
      }
    })();
  }
  return {
    status: res.status,
    async next(match: (event: SseEvent) => boolean): Promise<SseEvent> {
      for (;;) {
        while (cursor < events.length) {
          const event = events[cursor++] as SseEvent;
          if (match(event)) return event;
        }
        if (ended) throw new Error('event stream ended');
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    close: () => controller.abort(),
  };
}
