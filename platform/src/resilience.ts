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
import { Gauge, type Registry } from './metrics.ts';

export type BreakerState = 'closed' | 'half-open' | 'open';
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 0.5, open: 1 };

/** The breakers each registry reports, by dependency: one gauge per registry, read on scrape. */
const reported = new WeakMap<Registry, Map<string, () => BreakerState>>();

/**
 * Reports a circuit breaker's state on a registry as `circuit_breaker_state{dependency}`
 * (0 closed, 0.5 half-open, 1 open), read when Prometheus scrapes: every guard of a service, and
 * the assistant's breaker around the model, under one name.
 */
export function reportBreakerState(
  registry: Registry,
  dependency: string,
  state: () => BreakerState,
): void {
  let breakers = reported.get(registry);
  if (!breakers) {
    const own = new Map<string, () => BreakerState>();
    breakers = own;
    reported.set(registry, own);
    new Gauge({
      name: 'circuit_breaker_state',
      help: 'The circuit breaker around a dependency: 0 closed, 0.5 half-open, 1 open',
      labelNames: ['dependency'],
      registers: [registry],
      collect() {
        for (const [name, read] of own) this.set({ dependency: name }, BREAKER_VALUE[read()]);
      },
    });
  }
  breakers.set(dependency, state);
}

export function breakerStateOf(state: CircuitState): BreakerState {
  if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
  return state === CircuitState.HalfOpen ? 'half-open' : 'closed';
}

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
  /** Where the breaker's state is reported (`circuit_breaker_state{dependency}`). */
  report?: { registry: Registry; dependency: string };
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
  if (options.report) {
    reportBreakerState(options.report.registry, options.report.dependency, () =>
      breakerStateOf(breaker.state),
    );
  }
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
