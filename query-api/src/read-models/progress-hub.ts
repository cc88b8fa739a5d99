/**
 * One Redis subscription per instance to the views' progress channel
 * (platform/src/view-progress.ts), dispatching each message to the requests and streams that
 * wait on a view. When the subscription comes back after an outage, every listener is told to
 * read again (progress sent meanwhile is lost). It also remembers, for a bounded number of views,
 * the newest version published, so a database read older than that is not written over the view.
 */
import type { Redis } from '@parley/platform/redis';
import {
  decodeViewProgress,
  type ViewKind,
  viewProgressChannel,
} from '@parley/platform/view-progress';
import type { Watch } from './wait-for-version.ts';

/**
 * Called with the version a view reached (and the trace of the event that moved it, when tracing
 * is on), or undefined after a resync.
 */
export type ProgressListener = (version: number | undefined, traceparent?: string) => void;

const REMEMBERED_VIEWS = 50_000;

export class ProgressHub {
  private readonly listeners = new Map<string, Set<ProgressListener>>();
  private readonly published = new Map<string, number>();
  private subscribed = false;
  private readonly channel: string;

  constructor(
    private readonly subscriber: Redis,
    namespace: string,
  ) {
    this.channel = viewProgressChannel(namespace);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dispatch(message);
    });
    subscriber.on('close', () => {
      this.subscribed = false;
    });
  }

  /** Subscribes whenever the connection becomes ready (at start and after Redis comes back). */
  start(): void {
    const subscribe = () => {
      this.subscriber.subscribe(this.channel).then(
        () => {
          this.subscribed = true;
          for (const set of this.listeners.values())
            for (const listener of set) listener(undefined);
        },
        () => {},
      );
    };
    this.subscriber.on('ready', subscribe);
    if (this.subscriber.status === 'ready') subscribe();
  }

  /** True while progress can arrive. */
  get live(): boolean {
    return this.subscribed;
  }

  /** The newest version published for a view, when this instance saw one. */
  lastPublished(generation: number, kind: ViewKind, id: string): number | undefined {
    return this.published.get(keyOf(generation, kind, id));
  }

  listen(generation: number, kind: ViewKind, id: string, listener: ProgressListener): () => void {
    const key = keyOf(generation, kind, id);
    const set = this.listeners.get(key) ?? new Set();
    set.add(listener);
    this.listeners.set(key, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** A watch for a view reaching `minVersion`; undefined while the subscription is down. */
  watch(generation: number, kind: ViewKind, id: string, minVersion: number): Watch | undefined {
    if (!this.subscribed) return undefined;
    let woken = false;
    let wake: (() => void) | undefined;
    const stop = this.listen(generation, kind, id, (version) => {
      if (version !== undefined && version < minVersion) return;
      woken = true;
      wake?.();
    });
    return {
      next: (ms) => {
        if (woken) {
          woken = false;
          return Promise.resolve(true);
        }
        return new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            wake = undefined;
            resolve(false);
          }, ms);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            woken = false;
            resolve(true);
          };
        });
      },
      stop,
    };
  }

  private dispatch(message: string): void {
    const progress = decodeViewProgress(message);
    if (!progress) return;
    for (const [kind, id, version, traceparent] of progress.views) {
      const key = keyOf(progress.generation, kind, id);
      this.remember(key, version);
      const set = this.listeners.get(key);
      if (set) for (const listener of [...set]) listener(version, traceparent);
    }
  }

  private remember(key: string, version: number): void {
    // Insertion order makes the map a simple LRU: the oldest entry goes first.
    this.published.delete(key);
    this.published.set(key, version);
    if (this.published.size > REMEMBERED_VIEWS) {
      const oldest = this.published.keys().next().value;
      if (oldest !== undefined) this.published.delete(oldest);
    }
  }
}

const keyOf = (generation: number, kind: ViewKind, id: string) => `${generation}:${kind}:${id}`;
