/**
 * The schema registry client (Confluent API: Confluent Schema Registry, Karapace, or Apicurio's
 * ccompat API locally). Made here only, like every other client.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';

export {
  COMPATIBILITY as Compatibility,
  SchemaRegistry,
  SchemaType,
} from '@kafkajs/confluent-schema-registry';

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
      const { status } = await registryCall(options, 'GET', '/subjects', undefined, 2000);
      if (status !== 200) throw new Error(`registry answered HTTP ${status}`);
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

export type CompatibilityLevel =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

const REGISTRY_JSON = 'application/vnd.schemaregistry.v1+json';

/**
 * Calls the Confluent REST API for what the kafkajs client does not cover (compatibility config
 * and checks). Answers the status and the parsed body; throws only when the registry is unreachable.
 */
async function registryCall(
  options: SchemaRegistryOptions,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { accept: REGISTRY_JSON, 'content-type': REGISTRY_JSON };
  if (options.username && options.password) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  }
  const response = await fetch(`${options.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

export async function setSubjectCompatibility(
  options: SchemaRegistryOptions,
  subject: string,
  level: CompatibilityLevel,
): Promise<void> {
  const { status, body } = await registryCall(
    options,
    'PUT',
    `/config/${encodeURIComponent(subject)}`,
    {
      compatibility: level,
    },
  );
  if (status !== 200)
    throw new Error(
      `setting compatibility of ${subject} failed: HTTP ${status} ${JSON.stringify(body)}`,
    );
}

/**
 * Whether `schema` may be registered as the next version of `subject` under the subject's
 * compatibility level. A subject with no versions yet accepts anything.
 */
export async function testCompatibility(
  options: SchemaRegistryOptions,
  subject: string,
  schema: string,
): Promise<{ compatible: boolean; reason?: string; newSubject: boolean }> {
  const { status, body } = await registryCall(
    options,
    'POST',
    `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
    { schema },
  );
  if (status === 404) return { compatible: true, newSubject: true };
  if (status !== 200)
    throw new Error(
      `compatibility check of ${subject} failed: HTTP ${status} ${JSON.stringify(body)}`,
    );
  const reason =
    body.reason ?? (Array.isArray(body.messages) ? body.messages.join('; ') : undefined);
  return {
    compatible: body.is_compatible === true,
    ...(typeof reason === 'string' ? { reason } : {}),
    newSubject: false,
  };
}

/** Deletes a subject and its versions (tests and benchmarks clean up with it). */
export async function deleteSubject(
  options: SchemaRegistryOptions,
  subject: string,
): Promise<void> {
  await registryCall(options, 'DELETE', `/subjects/${encodeURIComponent(subject)}`);
}

/**
 * Whether a registry client error means "not found" (unknown id, subject or schema). The kafkajs
 * client answers some 404s with the raw HTTP error and turns others into ConfluentSchemaRegistryError,
 * a class its package does not export.
 */
export function isRegistryNotFound(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if ('status' in error && error.status === 404) return true;
  return (
    (error as Error).name === 'ConfluentSchemaRegistryError' &&
    /not found|404|No artifact|No version/i.test((error as Error).message)
  );
}
