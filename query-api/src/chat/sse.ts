/** Server-Sent Events framing (WHATWG HTML, "server-sent events"): pure, so it is tested alone. */

export function sseEvent(event: { id?: string; event?: string; data: unknown }): string {
  const lines: string[] = [];
  if (event.id !== undefined) lines.push(`id: ${event.id.replace(/[\r\n]/g, '')}`);
  if (event.event !== undefined) lines.push(`event: ${event.event}`);
  // JSON has no raw newlines, but a data field must never carry one.
  for (const line of JSON.stringify(event.data).split('\n')) lines.push(`data: ${line}`);
  return `${lines.join('\n')}\n\n`;
}

export const sseComment = (text: string) => `: ${text.replace(/[\r\n]/g, ' ')}\n\n`;

export const sseRetry = (ms: number) => `retry: ${ms}\n\n`;
