/** Settings every service process has, whatever else it needs. */
import { env } from './config.ts';
import { LOG_LEVELS } from './logger.ts';

export function serviceSettings(defaultPort: number) {
  return {
    LOG_LEVEL: env.oneOf(LOG_LEVELS, {
      default: { dev: 'info', test: 'warn', stage: 'info', prod: 'info' },
    }),
    HTTP_HOST: env.string({ default: { dev: '127.0.0.1', stage: '0.0.0.0', prod: '0.0.0.0' } }),
    HTTP_PORT: env.port({ default: defaultPort }),
    /** Largest request body accepted, in bytes. */
    HTTP_BODY_LIMIT: env.int(1024, 10 * 1024 * 1024, { default: 64 * 1024 }),
  };
}
