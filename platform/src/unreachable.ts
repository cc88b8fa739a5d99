/**
 * Whether an error means a store or broker could not be reached (refused, reset, timed out,
 * shutting down), as each client of platform/ reports it: Node's socket errors, PostgreSQL's
 * connection states, ioredis without its connection, the MongoDB driver's network and server
 * selection errors, kafkajs's connection errors. Such a failure is the dependency's, not a bug:
 * HTTP answers 503 with Retry-After instead of 500 (http.ts), and readiness already says which.
 */

/** Node's codes for a connection that could not be made or was lost. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // undici (fetch: the schema registry's client)
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** PostgreSQL: admin or crash shutdown, not accepting connections yet, too many connections. */
const POSTGRES_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

const MESSAGES = [
  // pg
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
  // ioredis with no offline queue, or a connection closing
  /^Stream isn't writeable/,
  /^Connection (is )?closed\.?$/,
  /^socket hang up$/,
  // ioredis commandTimeout
  /^Command timed out$/,
];

const NAMES = new Set([
  'MaxRetriesPerRequestError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
]);

/**
 * Whether this error itself (not what it wraps) is one: for a caller that walks the causes on its
 * own, e.g. the projectors' retry-or-dead-letter verdict.
 */
export function isUnreachableItself(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || POSTGRES_STATES.has(code)) return true;
    // SQLSTATE class 08: connection exception.
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof name === 'string' && NAMES.has(name)) return true;
  return typeof message === 'string' && MESSAGES.some((m) => m.test(message));
}

/** True when `error`, or an error it wraps (`cause`, kafkajs's `originalError`), is one. */
export function isUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (isUnreachableItself(current)) return true;
    const wrapped = current as Error & { originalError?: unknown };
    current = wrapped.cause ?? wrapped.originalError;
  }
  return false;
}
