/**
 * The query API's Server-Sent Events as a client reads them (`id:`, `event:`, `data:` with JSON),
 * for the tests and the benchmarks: one parser for both.
 */

export interface StreamEvent {
  id?: string;
  event?: string;
  data?: { text?: string } & Record<string, unknown>;
}

/** The events in a chunk of an event stream, and what is left of it (an unfinished event). */
export function parseEventStream(buffer: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const match = /^(id|event|data): (.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1], match[2]);
    }
    const event = fields.get('event');
    if (!event) continue;
    events.push({ id: fields.get('id'), event, data: JSON.parse(fields.get('data') ?? '{}') });
  }
  return { events, rest };
}
