/**
 * Read-your-writes: answer once a read model has reached the version a command returned, waiting
 * at most `timeoutMs`. The watch is registered before the first read so a progress message sent
 * in between is not missed; after that the model is read again only when a message says it moved
 * (or the subscription came back), never in a polling loop. Past the bound: what there is, stale.
 */
export interface Watch {
  /** Resolves true when woken (progress at or past the version, or a resync), false at the deadline. */
  next(timeoutMs: number): Promise<boolean>;
  stop(): void;
}

export interface WaitResult<T> {
  readonly value: T;
  /** The version asked for was not reached within the bound. */
  readonly stale: boolean;
}

export async function waitForVersion<T>(options: {
  minVersion: number | undefined;
  versionOf: (value: T) => number | undefined;
  /** The first read may go to the database; `again` reads are after a progress message. */
  read: (again: boolean) => Promise<T>;
  /** Undefined when no progress can arrive (the subscription is down): answer at once. */
  watch: () => Watch | undefined;
  timeoutMs: number;
  now?: () => number;
}): Promise<WaitResult<T>> {
  const { minVersion, versionOf, read } = options;
  const reached = (value: T) => minVersion === undefined || (versionOf(value) ?? 0) >= minVersion;
  if (minVersion === undefined) return { value: await read(false), stale: false };
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const watch = options.watch();
  try {
    let value = await read(false);
    while (!reached(value)) {
      const remaining = deadline - now();
      if (!watch || remaining <= 0 || !(await watch.next(remaining))) {
        return { value, stale: true };
      }
      value = await read(true);
    }
    return { value, stale: false };
  } finally {
    watch?.stop();
  }
}
