/**
 * The OpenTelemetry SDK for a process that turns tracing on (runService, when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; tests, with an in-memory exporter). Loaded on demand: a
 * process without tracing never loads it.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK for this process, exporting to the collector, or to the span processors given
 * (tests: an in-memory exporter). Neither: nothing is started.
 */
export function startTracing(options: {
  service: string;
  endpoint?: string;
  spanProcessors?: SpanProcessor[];
}): Tracing {
  const processors = [...(options.spanProcessors ?? [])];
  if (options.endpoint) {
    const url = `${options.endpoint.replace(/\/$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  if (processors.length === 0) return { shutdown: async () => {} };
  const sdk = new NodeSDK({
    serviceName: options.service,
    spanProcessors: processors,
    // No automatic instrumentation: the hops are Parley's own (HTTP, records, projections).
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
