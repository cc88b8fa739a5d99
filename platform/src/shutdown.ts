import type { Logger } from './logger.ts';

export interface Closable {
  readonly name: string;
  readonly close: () => Promise<unknown>;
}

/**
 * Closes resources in the order given (HTTP server first, so in-flight requests drain, then the
 * clients they used), each at most once, within an overall deadline.
 */
export async function closeAll(
  resources: readonly Closable[],
  log: Logger,
  deadlineMs = 20_000,
): Promise<boolean> {
  const started = Date.now();
  let clean = true;
  for (const resource of resources) {
    const remaining = deadlineMs - (Date.now() - started);
    if (remaining <= 0) {
      log.error({ resource: resource.name }, 'shutdown deadline passed; not closing the rest');
      return false;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        resource.close(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('close timed out')), remaining);
        }),
      ]);
      log.debug({ resource: resource.name }, 'closed');
    } catch (error) {
      clean = false;
      log.error({ err: error, resource: resource.name }, 'failed to close');
    } finally {
      clearTimeout(timer);
    }
  }
  return clean;
}

/** On SIGTERM or SIGINT, closes everything once and exits (0 when every close succeeded). */
export function exitOnSignals(resources: readonly Closable[], log: Logger, deadlineMs = 20_000) {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    void closeAll(resources, log, deadlineMs).then((clean) => process.exit(clean ? 0 : 1));
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
