/** Settings every service process has, whatever else it needs. */
import { env } from './config.ts';
import { LOG_LEVELS } from './logger.ts';
import { tracingSettings } from './tracing.ts';

/** Every service's base URL where `npm start` runs it (the defaults of status and ops probes). */
export const LOCAL_SERVICE_URLS =
  'command-api=http://127.0.0.1:3000,query-api=http://127.0.0.1:3001,' +
  'projectors=http://127.0.0.1:3002,command-processor=http://127.0.0.1:3003,' +
  'assistant=http://127.0.0.1:3004';

/** `name=url,...` as a config value matches it (an empty list allowed). */
export const SERVICE_URLS_PATTERN =
  /^([a-z-]+=https?:\/\/[A-Za-z0-9.-]+(:\d+)?(,[a-z-]+=https?:\/\/[A-Za-z0-9.-]+(:\d+)?)*)?$/;

/** Parses `name=url,name=url` (names and URLs already matched by SERVICE_URLS_PATTERN). */
export function parseServiceUrls(text: string): Map<string, URL> {
  const urls = new Map<string, URL>();
  for (const entry of text.split(',').filter(Boolean)) {
    const at = entry.indexOf('=');
    urls.set(entry.slice(0, at), new URL(entry.slice(at + 1)));
  }
  return urls;
}

export function serviceSettings(defaultPort: number) {
  return {
    LOG_LEVEL: env.oneOf(LOG_LEVELS, {
      default: { dev: 'info', test: 'warn', stage: 'info', prod: 'info' },
    }),
    HTTP_HOST: env.string({ default: { dev: '127.0.0.1', stage: '0.0.0.0', prod: '0.0.0.0' } }),
    HTTP_PORT: env.port({ default: defaultPort }),
    /** Largest request body accepted, in bytes. */
    HTTP_BODY_LIMIT: env.int(1024, 10 * 1024 * 1024, { default: 64 * 1024 }),
    ...tracingSettings,
  };
}
