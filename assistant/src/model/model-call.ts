/**
 * One reply from the model, streamed through the `ai` SDK (`streamText`) and guarded by cockatiel:
 * - a timeout to the first token and one for the whole reply;
 * - retries with jittered exponential backoff, only before the first token (once the user has
 *   seen text, a retry would show a different reply: the reply fails instead);
 * - a circuit breaker counting every attempt: while it is open, replies fail at once.
 * The user may stop the reply: what was written by then is returned, marked stopped.
 */
import { type BreakerState, breakerStateOf } from '@parley/platform/resilience';
import { type LanguageModel, type ModelMessage, streamText } from 'ai';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from 'cockatiel';

export interface ModelCallSettings {
  firstTokenTimeoutMs: number;
  replyTimeoutMs: number;
  /** Attempts after the first, before a first token only. */
  retries: number;
  breakerFailures: number;
  breakerHalfOpenMs: number;
  maxOutputTokens: number;
}

export interface ReplyRequest {
  system: string;
  messages: ModelMessage[];
  /** Aborted when the user stops the reply. */
  stop: AbortSignal;
  onDelta: (text: string) => void;
}

export interface Reply {
  text: string;
  /** stop, length, content-filter, stopped (by the user), other. */
  finishReason: string;
  usage: { inputTokens: number; outputTokens: number };
  firstTokenMs: number;
  durationMs: number;
  attempts: number;
}

/** The largest count an Avro int holds: the recorded usage fields are ints. */
const MAX_TOKENS = 2 ** 31 - 1;

/**
 * A provider's usage as Parley records it: what it did not report is 0, and what it reported is
 * trusted only as a whole number from 0 to the largest int (a provider's nonsense must not make a
 * reply unrecordable or take tokens off a user's day).
 */
export function usageOf(reported: {
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
}) {
  const count = (n: number | undefined) =>
    n !== undefined && Number.isFinite(n) && n > 0 ? Math.min(Math.round(n), MAX_TOKENS) : 0;
  return { inputTokens: count(reported.inputTokens), outputTokens: count(reported.outputTokens) };
}

/** Why a reply could not be made; `reason` is what the recorded failure says. */
export class ReplyFailed extends Error {
  constructor(
    readonly reason: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'ReplyFailed';
  }
}

class FirstTokenTimeout extends Error {
  override name = 'FirstTokenTimeout';
}
class ReplyTimeout extends Error {
  override name = 'ReplyTimeout';
}
/** The user stopped the reply: not a failure of the model (the breaker does not count it). */
class StoppedByUser extends Error {
  override name = 'StoppedByUser';
}
/** An attempt that failed before its first token: worth another try. */
class BeforeFirstToken extends Error {
  override name = 'BeforeFirstToken';
}

const reasonOf = (error: unknown): string => {
  if (error instanceof BrokenCircuitError) return 'model_unavailable';
  const cause = error instanceof BeforeFirstToken ? error.cause : error;
  if (cause instanceof FirstTokenTimeout) return 'first_token_timeout';
  if (cause instanceof ReplyTimeout) return 'timeout';
  return 'provider_error';
};

/**
 * The abort signal of one call: the user's stop, a timeout to the first token (cleared when it
 * arrives) and one for the whole reply, each aborting with its own reason.
 */
function callGuard(stop: AbortSignal, settings: ModelCallSettings) {
  const controller = new AbortController();
  const abort = (reason: unknown) => controller.abort(reason);
  const onStop = () => abort(stop.reason);
  // Stopped before the call began (the user stopped a reply not started yet): nothing is asked.
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  const firstToken = setTimeout(() => abort(new FirstTokenTimeout()), settings.firstTokenTimeoutMs);
  const whole = setTimeout(() => abort(new ReplyTimeout()), settings.replyTimeoutMs);
  return {
    signal: controller.signal,
    firstTokenArrived: () => clearTimeout(firstToken),
    release: () => {
      clearTimeout(firstToken);
      clearTimeout(whole);
      stop.removeEventListener('abort', onStop);
    },
  };
}

/**
 * Passes the text of a model's stream on as it comes; `first.at` notes when the first token came
 * (it stops the first-token timer). The text stream (the SDK's cheapest: a quarter less work per
 * token than the full stream) carries no errors: the stream's error (from `onError`) or the
 * reason the call was aborted is thrown once it ends.
 */
async function relay(
  texts: AsyncIterable<string>,
  guard: ReturnType<typeof callGuard>,
  request: ReplyRequest,
  text: { value: string },
  first: { at: number | undefined; error?: { cause: unknown } },
): Promise<void> {
  for await (const delta of texts) {
    if (!delta) continue;
    if (first.at === undefined) {
      first.at = performance.now();
      guard.firstTokenArrived();
    }
    text.value += delta;
    request.onDelta(delta);
  }
  if (first.error) throw first.error.cause;
  if (guard.signal.aborted) throw guard.signal.reason ?? new Error('aborted');
}

/**
 * A reply stopped by the user: what was written is the reply. The provider reports no usage for
 * an aborted call; the output is estimated (about 4 characters a token).
 */
function stoppedReply(text: string, durationMs: number, attempts: number): Reply {
  return {
    text,
    finishReason: 'stopped',
    usage: { inputTokens: 0, outputTokens: Math.ceil(text.length / 4) },
    firstTokenMs: 0,
    durationMs,
    attempts,
  };
}

export interface ModelCaller {
  streamReply(request: ReplyRequest): Promise<Reply>;
  breakerState(): BreakerState;
}

export function modelCaller(model: LanguageModel, settings: ModelCallSettings): ModelCaller {
  const breaker = circuitBreaker(
    handleWhen((e) => !(e instanceof StoppedByUser)),
    {
      halfOpenAfter: settings.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(settings.breakerFailures),
    },
  );
  const retrying = retry(
    handleWhen((e) => e instanceof BeforeFirstToken),
    {
      maxAttempts: settings.retries,
      backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
    },
  );
  const policy = wrap(retrying, breaker);

  /** One call: its timers, and the text it streams into `text`. */
  const attempt = async (request: ReplyRequest, text: { value: string }) => {
    const guard = callGuard(request.stop, settings);
    const started = performance.now();
    const first: { at: number | undefined; error?: { cause: unknown } } = { at: undefined };
    try {
      const result = streamText({
        model,
        system: request.system,
        messages: request.messages,
        maxRetries: 0,
        maxOutputTokens: settings.maxOutputTokens,
        abortSignal: guard.signal,
        // Thrown by relay once the text stream ends; the SDK would also print them.
        onError: ({ error }) => {
          first.error ??= { cause: error };
        },
      });
      await relay(result.textStream, guard, request, text, first);
      const usage = await result.totalUsage;
      const ended = performance.now();
      return {
        finishReason: await result.finishReason,
        usage: usageOf(usage),
        firstTokenMs: Math.round((first.at ?? ended) - started),
        durationMs: Math.round(ended - started),
      };
    } catch (error) {
      if (request.stop.aborted) throw new StoppedByUser('stopped by the user', { cause: error });
      const reason = guard.signal.aborted ? guard.signal.reason : error;
      if (first.at === undefined) {
        throw new BeforeFirstToken('no first token', { cause: reason });
      }
      throw reason;
    } finally {
      guard.release();
    }
  };

  return {
    breakerState: () => breakerStateOf(breaker.state),

    async streamReply(request) {
      const text = { value: '' };
      let attempts = 0;
      const started = performance.now();
      // Stopped before it began (the user stopped a reply not started yet): nothing is asked.
      if (request.stop.aborted) return stoppedReply('', 0, 0);
      try {
        const done = await policy.execute(() => {
          attempts += 1;
          return attempt(request, text);
        });
        return { text: text.value, attempts, ...done };
      } catch (error) {
        if (request.stop.aborted) {
          return stoppedReply(text.value, Math.round(performance.now() - started), attempts);
        }
        throw new ReplyFailed(reasonOf(error), attempts, { cause: error });
      }
    },
  };
}
