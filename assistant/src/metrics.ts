/** The assistant's metrics, on its /metrics. */
import { Counter, Gauge, Histogram, type Registry } from '@parley/platform/metrics';
import { type BreakerState, reportBreakerState } from '@parley/platform/resilience';

export function assistantMetrics(registry: Registry, breakerState: () => BreakerState) {
  reportBreakerState(registry, 'model', breakerState);
  return {
    replies: new Counter({
      name: 'assistant_replies_total',
      help: 'Replies ended, by outcome: finished, stopped, failed, expired',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    modelCalls: new Counter({
      name: 'assistant_model_calls_total',
      help: 'Requests to the model (every attempt, titles too)',
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'assistant_tokens_total',
      help: 'Tokens the model read (input) and wrote (output)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    firstToken: new Histogram({
      name: 'assistant_first_token_seconds',
      help: 'From the request to the model to its first token',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'assistant_reply_duration_seconds',
      help: 'From the request to the model to its last token',
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'assistant_replies_in_flight',
      help: 'Replies being written now',
      registers: [registry],
    }),
  };
}

export type AssistantMetrics = ReturnType<typeof assistantMetrics>;
