/**
 * The schema registry client (Confluent API: Confluent Schema Registry, Karapace, or Apicurio's
 * ccompat API locally). Made here only, like every other client.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';

export { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';

export const schemaRegistrySettings = {
  SCHEMA_REGISTRY_URL: env.url(['http', 'https'], {
    default: { dev: 'http://127.0.0.1:18081/apis/ccompat/v7' },
  }),
  SCHEMA_REGISTRY_USERNAME: env.string({ default: { dev: '' } }),
  SCHEMA_REGISTRY_PASSWORD: env.secret({ default: { dev: '' } }),
};

export interface SchemaRegistryOptions {
  url: string;
  username?: string;
  password?: string;
}

export function createSchemaRegistry(options: SchemaRegistryOptions): SchemaRegistry {
  const auth =
    options.username && options.password
      ? { username: options.username, password: options.password }
      : undefined;
  return new SchemaRegistry({ host: options.url, ...(auth ? { auth } : {}) });
}

/** Ready when the registry lists its subjects. */
export function schemaRegistryHealthCheck(options: SchemaRegistryOptions): HealthCheck {
  return {
    name: 'schema-registry',
    check: async () => {
      const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
      if (options.username && options.password) {
        headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
      }
      const response = await fetch(`${options.url}/subjects`, {
        headers,
        signal: AbortSignal.timeout(2000),
      });
      if (!response.ok) throw new Error(`registry answered HTTP ${response.status}`);
    },
  };
}

export function schemaRegistryOptions(
  config: ConfigOf<typeof schemaRegistrySettings>,
): SchemaRegistryOptions {
  return {
    url: config.SCHEMA_REGISTRY_URL,
    username: config.SCHEMA_REGISTRY_USERNAME,
    password: config.SCHEMA_REGISTRY_PASSWORD,
  };
}

/** A client from the shared settings, with its readiness check. */
export function connectSchemaRegistry(config: ConfigOf<typeof schemaRegistrySettings>) {
  const options = schemaRegistryOptions(config);
  return { registry: createSchemaRegistry(options), check: schemaRegistryHealthCheck(options) };
}
