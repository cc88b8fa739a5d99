/**
 * A small Server-Sent Events client for the benchmarks: reads a stream with fetch and hands out
 * its events in order; `next(match)` resolves with the first event after the last one handed out
 * that matches (skipping the others).
 */

export interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown> & { replyId?: string; replyTo?: string; reason?: string };
}

/** The complete events in `buffer`, and what is left (an event not finished yet). */
function parseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  const events: SseEvent[] = [];
  for (const block of blocks) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const match = /^(id|event|data): (.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1], match[2]);
    }
    const event = fields.get('event');
    if (event) {
      events.push({ id: fields.get('id'), event, data: JSON.parse(fields.get('data') ?? '{}') });
    }
  }
  return { events, rest };
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
          const parsed = parseEvents(buffer + decoder.decode(value, { stream: true }));
          events.push(...parsed.events);
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
