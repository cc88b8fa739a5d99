import { type Logger, pino } from 'pino';
import { activeTraceIds } from './tracing.ts';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out of every log line: credentials, tokens and personal data. Log objects
 * use these names (req/res serializers included), so redaction holds wherever a line is written.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'currentPassword',
  '*.currentPassword',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'email',
  '*.email',
  'displayName',
  '*.displayName',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'config.POSTGRES_PASSWORD',
  'config.REDIS_PASSWORD',
  'config.SCHEMA_REGISTRY_PASSWORD',
  'config.JWT_SIGNING_KEY',
  'config.PII_MASTER_KEY',
];

export interface LoggerOptions {
  service: string;
  level: string;
  environment: string;
  /** Where lines go; stdout by default (collected by the platform's log shipper). */
  destination?: pino.DestinationStream;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service, env: options.environment },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The trace and span a line belongs to, when tracing is on (platform/src/tracing.ts).
      mixin: () => activeTraceIds() ?? {},
    },
    options.destination,
  );
}
