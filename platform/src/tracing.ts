/**
 * Traces with OpenTelemetry, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: one trace follows a
 * request from the HTTP call through the command record, the command processor, the events, the
 * projections and the push to the client (and the assistant's model call). The W3C
 * `traceparent` (and `tracestate`) travel in HTTP headers, in every Kafka record's headers
 * (schemas/src/serde/headers.ts) and in the views' progress messages. With tracing off the API
 * is OpenTelemetry's no-op: spans cost nothing and nothing is propagated. This module is the API
 * only; the SDK (tracing-sdk.ts) is loaded by a process that turns tracing on.
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { env } from './config.ts';

export { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace };

export const tracingSettings = {
  /** OTLP/HTTP collector base URL (traces go to `<url>/v1/traces`); empty: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: env.matching(/^(https?:\/\/\S+)?$/, 'an http(s) URL or empty', {
    default: '',
  }),
};

export const tracer = (): Tracer => trace.getTracer('parley');

type Carrier = Record<string, string>;

/** `traceparent`/`tracestate` of a context (the active one by default), for headers. */
export function traceHeaders(from: Context = context.active()): Carrier {
  const carrier: Carrier = {};
  propagation.inject(from, carrier);
  return carrier;
}

/** The context a record's or request's `traceparent` names (ROOT when it has none). */
export function contextFrom(
  headers: Readonly<Record<string, unknown>> | undefined,
  base: Context = context.active(),
): Context {
  const carrier: Carrier = {};
  for (const name of ['traceparent', 'tracestate']) {
    const raw = headers?.[name];
    const first = Array.isArray(raw) ? raw[0] : raw;
    if (typeof first === 'string') carrier[name] = first;
    else if (Buffer.isBuffer(first)) carrier[name] = first.toString('utf8');
  }
  return propagation.extract(base, carrier);
}

/** The active span's ids, for log lines (none when tracing is off). */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  // Not sampled (or the no-op tracer's invalid context): nothing to look up.
  if ((traceFlags & 1) === 0) return undefined;
  return { traceId, spanId };
}

/** Runs `work` in a span child of `parent`, ended when it settles, marked failed on a throw. */
export async function inSpan<T>(
  name: string,
  options: { parent?: Context; kind?: SpanKind; attributes?: Record<string, string | number> },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
