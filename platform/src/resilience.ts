/**
 * One guard per remote dependency (Kafka, Redis, a database): a timeout per attempt, a jittered
 * retry, and a circuit breaker that stops calling a dependency that keeps failing. A call that
 * cannot get through fails fast with DependencyUnavailable (HTTP 503 with Retry-After), so a
 * request never hangs on a dependency that is down. Only the policies asked for are built: a
 * guard on a hot path whose client times out by itself (ioredis `commandTimeout`) and that
 * does not retry is the breaker alone, with no timer, signal or retry loop per call.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { AppError } from './errors.ts';

export class DependencyUnavailable extends AppError {
  constructor(code: string, detail: string, cause: unknown, retryAfterSeconds: number) {
    super(code, 503, detail, { cause, extensions: { retryAfterSeconds } });
  }
}

export interface GuardOptions {
  /** The problem code of a refused call, e.g. COMMANDS_UNAVAILABLE. */
  code: string;
  /** What the client reads in the problem's detail. */
  detail: string;
  /**
   * Per attempt; leave out when the client enforces its own timeout (its failures still count
   * for the breaker). Without it the call's signal never aborts.
   */
  timeoutMs?: number;
  /** Attempts per call, the first included. */
  attempts: number;
  /** Consecutive failed calls that open the circuit. */
  breakAfter: number;
  /** How long the circuit stays open before one trial call. */
  halfOpenAfterMs: number;
}

export interface Guard {
  /** Runs the call through timeout, retry and breaker; throws DependencyUnavailable when it fails. */
  <T>(call: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /**
   * True while the circuit is open and its trial is not due yet: callers can skip optional work
   * at once. Once the trial is due it is false again, so the next call makes the trial (a breaker
   * only half-opens on a call).
   */
  readonly isOpen: () => boolean;
}

/** The signal of a call whose guard has no timeout. */
const NEVER_ABORTED = new AbortController().signal;

export function guard(options: GuardOptions): Guard {
  const breaker = circuitBreaker(handleAll, {
    halfOpenAfter: options.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.breakAfter),
  });
  const retries =
    options.attempts > 1
      ? [
          retry(handleAll, {
            maxAttempts: options.attempts - 1,
            backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }),
          }),
        ]
      : [];
  const timeouts =
    options.timeoutMs === undefined
      ? []
      : // abortOnReturn false: no abort (and no DOMException) after every successful call.
        [
          timeout(options.timeoutMs, {
            strategy: TimeoutStrategy.Aggressive,
            abortOnReturn: false,
          }),
        ];
  const policy = wrap(breaker, ...retries, ...timeouts);
  let openedAt = 0;
  breaker.onBreak(() => {
    openedAt = performance.now();
  });
  const openSeconds = Math.max(1, Math.ceil(options.halfOpenAfterMs / 1000));
  const guarded = async <T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      if (timeouts.length === 0) return await policy.execute(() => call(NEVER_ABORTED));
      // A signal of the call's own: cockatiel hangs its listeners on the parent signal.
      return await policy.execute(({ signal }) => call(signal), new AbortController().signal);
    } catch (error) {
      if (error instanceof AppError) throw error;
      const retryAfter = error instanceof BrokenCircuitError ? openSeconds : 1;
      throw new DependencyUnavailable(options.code, options.detail, error, retryAfter);
    }
  };
  const isOpen = () =>
    breaker.state === CircuitState.Open && performance.now() - openedAt < options.halfOpenAfterMs;
  return Object.assign(guarded, { isOpen });
}
