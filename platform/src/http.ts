/**
 * The HTTP base every service builds on: request ids, JSON logs, /health/live, /health/ready,
 * /metrics, problem+json (RFC 9457) for every error, including framework ones, security headers
 * (helmet), CORS from an allow-list, and Redis-backed rate limits for the routes that ask for one
 * (`config: { rateLimit: { max, timeWindow } }`). HTTPS is terminated at the ingress.
 */
/// <reference types="@fastify/rate-limit" preserve="true" />
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Redis } from 'ioredis';
import { env } from './config.ts';
import { AppError, PROBLEM_CONTENT_TYPE, problem, titleFor } from './errors.ts';
import { checkReadiness, type HealthCheck } from './health.ts';
import type { Logger } from './logger.ts';
import { Histogram, type Registry } from './metrics.ts';
import { genericProblems } from './problem-responses.ts';
import { sharedCountRateLimitStore } from './rate-limit-store.ts';
import { DependencyUnavailable } from './resilience.ts';
import { RouteMethods } from './route-methods.ts';
import { securityHeaders } from './security-headers.ts';
import { addTextKeyword, defaultTextKind, parseJsonBody, withTextRules } from './text-input.ts';
import {
  context,
  contextFrom,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
} from './tracing.ts';
import { isUnreachable } from './unreachable.ts';

/** A domain or HTTP error of ours: its status, code, detail and extensions. */
function answerAppError(error: AppError, request: FastifyRequest, reply: FastifyReply) {
  // A dependency that is down (503) is an expected state, watched through readiness and metrics.
  if (error.status === 503) request.log.warn({ err: error }, error.message);
  else if (error.status >= 500) request.log.error({ err: error }, error.message);
  const retryAfter = error.extensions.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  return reply
    .status(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problem(error.status, error.code, error.message, error.extensions));
}

/** Fastify's own default: how long an idle keep-alive connection is kept. */
const KEEP_ALIVE_SECONDS = 72;

export const proxySettings = {
  /**
   * The peers whose X-Forwarded-For is believed (the load balancer's subnets): the client's
   * address, which the per-IP rate limits count, is then the last one they name. `none` believes
   * no one: every request is counted by the address it came from. Required outside dev, so a
   * deployment behind a load balancer does not count every client as the load balancer.
   */
  TRUST_PROXY: env.addressRanges({ default: { dev: [] } }),
  /**
   * How long an idle keep-alive connection is kept. Behind a load balancer, longer than its idle
   * timeout, so the balancer closes idle connections: one closed here as the balancer sends a
   * request on it fails that request (a 502).
   */
  HTTP_KEEP_ALIVE_SECONDS: env.int(1, 86_400, { default: KEEP_ALIVE_SECONDS }),
};

export interface HttpServerOptions {
  service: string;
  log: Logger;
  metrics: Registry;
  checks: readonly HealthCheck[];
  bodyLimit?: number;
  readinessTimeoutMs?: number;
  /** Browser origins allowed to call the API (the web app); none when empty. */
  corsOrigins?: readonly string[];
  /** Where rate-limit counters live, shared by every instance; in memory when absent. */
  rateLimitRedis?: Redis;
  /** How long a request may take to arrive, body included (30 s by default). */
  requestTimeoutMs?: number;
  /** HTTP_KEEP_ALIVE_SECONDS: how long an idle keep-alive connection is kept (72 s by default). */
  keepAliveSeconds?: number;
  /** TRUST_PROXY: whose X-Forwarded-For names the client (none when empty). */
  trustedProxies?: readonly string[];
}

/** The longest a request may take to arrive: its headers, and all of it. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Retry-After of a request refused because a store or broker is unreachable. */
const UNREACHABLE_RETRY_AFTER_SECONDS = 5;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes, scrapes and documents: no trace. */
const UNTRACED = /^\/(health|metrics|docs)(\/|$)/;

/** What the errors Fastify raises before routing mean, said without echoing the request. */
const FRAMEWORK_ERRORS: Record<string, string> = {
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is longer than allowed',
  FST_ERR_BAD_URL: 'the path is not a valid URL (bad percent-encoding)',
};

/** Node's HTTP parser errors, answered before any route as problem+json (then the socket closes). */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request line and headers are larger than allowed']
        : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP'];
  const body = JSON.stringify(problem(status, code, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${titleFor(status)}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // One access line per request (onResponse below) instead of Fastify's two with the whole
    // request and response objects.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // A request must arrive whole in time (Fastify's default is never): a client that sends its
    // headers slowly, or a body it trickles or never finishes, cannot hold a socket for good:
    // 408 and the socket closes (answerClientError). Streams are not cut: only the request counts.
    // Node looks for late requests every `connectionsCheckingInterval`.
    requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    keepAliveTimeout: (options.keepAliveSeconds ?? KEEP_ALIVE_SECONDS) * 1000,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
      connectionsCheckingInterval: 1_000,
    },
    // request.ip is the client's address as the trusted proxies forward it, their own otherwise.
    trustProxy: options.trustedProxies?.length ? [...options.trustedProxies] : false,
    forceCloseConnections: 'idle',
    // Errors before routing (a path parameter over its length, a malformed URL) and Node's own
    // parser errors (a malformed request, headers or path too large) are problem+json too.
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode ?? 400;
      const detail = FRAMEWORK_ERRORS[error.code] ?? 'the request cannot be routed';
      void (reply as unknown as FastifyReply)
        .status(status)
        .type(PROBLEM_CONTENT_TYPE)
        .send(problem(status, error.code.replace(/^FST_ERR_/, ''), detail));
    },
    clientErrorHandler: answerClientError,
  });

  // Bodies are validated as sent: no type coercion ("42" is not 42), and unknown properties are
  // refused, never silently dropped. Querystrings, params and headers are text, so they coerce.
  // Every string of every part is checked as text (text-input.ts): no control characters, no
  // lone surrogates, one line unless its schema says multiline.
  const strict = addTextKeyword(
    addFormats.default(
      new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false }),
    ),
  );
  const coercing = addTextKeyword(
    addFormats.default(
      new Ajv({
        coerceTypes: 'array',
        removeAdditional: false,
        useDefaults: true,
        allErrors: false,
      }),
    ),
  );
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(
      withTextRules(schema, defaultTextKind(httpPart)) as object,
    ),
  );
  // JSON bodies in UTF-8 only, invalid bytes refused rather than replaced (text-input.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request.headers['content-type'], body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  // A path served with other methods answers 405 with Allow, not 404 (route-methods.ts).
  const routeMethods = new RouteMethods();
  app.addHook('onRoute', (route) => routeMethods.add(route.method, route.url));
  const methodNotAllowed = (request: FastifyRequest, reply: FastifyReply, allowed: string[]) =>
    reply
      .status(405)
      .header('allow', allowed.join(', '))
      .type(PROBLEM_CONTENT_TYPE)
      .send(
        problem(
          405,
          'METHOD_NOT_ALLOWED',
          `${request.method.slice(0, 20)} is not allowed here; allowed: ${allowed.join(', ')}`,
        ),
      );
  const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? '';
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const allowed = routeMethods.allowed(pathOf(request));
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return methodNotAllowed(request, reply, allowed);
    }
    return reply
      .status(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(problem(404, 'NOT_FOUND', `no route for ${request.method} ${pathOf(request)}`));
  };
  /** A path named by a route of its own, taken by a route with a parameter that refused it. */
  const literalRefused = (request: FastifyRequest, error: FastifyError) => {
    if (error.validationContext !== 'params') return undefined;
    const allowed = routeMethods.literal(pathOf(request));
    return allowed.length > 0 && !allowed.includes(request.method) ? allowed : undefined;
  };

  // Every documented route's document lists the errors any route can answer (problem-responses.ts).
  app.addHook('onRoute', (route) => {
    const schema = route.schema as
      | { hide?: boolean; response?: Record<string, unknown> }
      | undefined;
    if (!schema || schema.hide) return;
    const rateLimited = Boolean((route.config as { rateLimit?: unknown } | undefined)?.rateLimit);
    schema.response = {
      ...genericProblems({ method: route.method, url: route.url, rateLimited }),
      ...schema.response,
    };
  });

  const security = securityHeaders();
  // One server span per request (not for probes and scrapes), child of the caller's traceparent;
  // the rest of the request runs in its context, so the records it writes carry it.
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(security);
    const route = request.routeOptions.url;
    if (route === undefined || UNTRACED.test(route)) return done();
    const parent = contextFrom(request.headers, ROOT_CONTEXT);
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route },
      },
      parent,
    );
    spans.set(request, span);
    context.with(trace.setSpan(parent, span), done);
  });
  const allowed = new Set(options.corsOrigins ?? []);
  void app.register(cors, {
    origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'idempotency-key',
      'if-match',
      'if-none-match',
      'last-event-id',
      'x-min-version',
      'x-request-id',
    ],
    exposedHeaders: [
      'etag',
      'location',
      'retry-after',
      'x-degraded',
      'x-read-source',
      'x-request-id',
      'x-view-stale',
    ],
    maxAge: 600,
  });
  void app.register(rateLimit, {
    global: false,
    // Counted in memory and shared through Redis in the background: no Redis round trip per
    // request (platform/src/rate-limit-store.ts).
    ...(options.rateLimitRedis
      ? { store: sharedCountRateLimitStore(options.rateLimitRedis, 'parley:rate:').Store }
      : {}),
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', 429, `Too many requests; retry in ${context.after}`, {
        extensions: { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) },
      }),
  });

  // While draining, each answer closes its connection, so keep-alive clients move to another
  // instance and the server can finish closing once the requests in flight are answered.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks, not async ones: no promise per request on every route.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [options.metrics],
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    duration.observe(
      { method: request.method, route, status: String(status) },
      reply.elapsedTime / 1000,
    );
    // Health and metrics routes say `logLevel: 'warn'`: probes do not flood the logs.
    request.log.info(
      {
        method: request.method,
        url: request.url,
        route,
        status,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request completed',
    );
    done();
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    // No route for this method and path: what its body or headers hold does not matter (a QUERY
    // without a Content-Type is refused before the not-found handler would run).
    if (request.is404) return notFound(request, reply);
    if (error instanceof AppError) return answerAppError(error, request, reply);
    const allowed = literalRefused(request, error);
    if (allowed) return methodNotAllowed(request, reply, allowed);
    const status = error.statusCode ?? 500;
    if (status >= 500 && isUnreachable(error)) {
      // A store or broker down is not a bug: the client may try again (readiness says which).
      return answerAppError(
        new DependencyUnavailable(
          'DEPENDENCY_UNAVAILABLE',
          'A store this service needs is unreachable; try again shortly',
          error,
          UNREACHABLE_RETRY_AFTER_SECONDS,
        ),
        request,
        reply,
      );
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return reply
        .status(500)
        .type(PROBLEM_CONTENT_TYPE)
        .send(problem(500, 'INTERNAL', undefined));
    }
    const code = error.validation ? 'VALIDATION_FAILED' : (error.code ?? 'BAD_REQUEST');
    return reply
      .status(status)
      .type(PROBLEM_CONTENT_TYPE)
      .send(
        problem(
          status,
          code.replace(/^FST_ERR_/, ''),
          error.message,
          error.validation ? { errors: error.validation } : {},
        ),
      );
  });

  app.setNotFoundHandler(notFound);

  app.get('/health/live', { logLevel: 'warn' }, async () => ({
    status: 'live',
    service: options.service,
  }));

  app.get('/health/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await checkReadiness(options.checks, options.readinessTimeoutMs);
    return reply
      .status(report.status === 'not-ready' ? 503 : 200)
      .send({ service: options.service, ...report });
  });

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) =>
    reply.type(options.metrics.contentType).send(await options.metrics.metrics()),
  );

  return app;
}
