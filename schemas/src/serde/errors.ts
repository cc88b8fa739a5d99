/**
 * Typed errors for bytes that cannot become a record, or a record that cannot become bytes.
 * Consumers tell a poison record (dead-letter it) from a transient fault (retry) by these types.
 */
import { AppError } from '@parley/platform/errors';

/** Seconds a client is asked to wait when the registry cannot answer (HTTP Retry-After). */
const REGISTRY_RETRY_AFTER_SECONDS = 5;

export class SerdeError extends AppError {
  /** True when retrying cannot help: the bytes or the value themselves are wrong. */
  readonly poison: boolean;
  constructor(code: string, message: string, options: { cause?: unknown; poison?: boolean } = {}) {
    const poison = options.poison ?? true;
    // Over HTTP: a value that cannot be written is the request's (422); a registry that cannot
    // answer is a dependency down (503, try again).
    super(code, poison ? 422 : 503, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(poison ? {} : { extensions: { retryAfterSeconds: REGISTRY_RETRY_AFTER_SECONDS } }),
    });
    this.name = code;
    this.poison = poison;
  }
}

export class WrongMagicByteError extends SerdeError {
  constructor(readonly magicByte: number) {
    super(
      'WRONG_MAGIC_BYTE',
      `expected the Confluent wire format (magic byte 0), got byte ${magicByte}`,
    );
  }
}

export class TruncatedPayloadError extends SerdeError {
  constructor(detail: string, cause?: unknown) {
    super('TRUNCATED_PAYLOAD', `payload is truncated: ${detail}`, { cause });
  }
}

export class CorruptPayloadError extends SerdeError {
  constructor(detail: string, cause?: unknown) {
    super('CORRUPT_PAYLOAD', `payload does not decode with its writer schema: ${detail}`, {
      cause,
    });
  }
}

export class UnknownSchemaIdError extends SerdeError {
  constructor(
    readonly schemaId: number,
    cause?: unknown,
  ) {
    super('UNKNOWN_SCHEMA_ID', `schema id ${schemaId} is not in the schema registry`, { cause });
  }
}

export class UnknownRecordTypeError extends SerdeError {
  constructor(readonly recordName: string) {
    super('UNKNOWN_RECORD_TYPE', `no schema in schemas/avro for record type '${recordName}'`);
  }
}

export class SchemaNotRegisteredError extends SerdeError {
  constructor(readonly subject: string) {
    super(
      'SCHEMA_NOT_REGISTERED',
      `the current schema of subject '${subject}' is not registered; run the bootstrap`,
      {
        poison: false,
      },
    );
  }
}

export class InvalidRecordError extends SerdeError {
  constructor(
    readonly recordName: string,
    readonly paths: string[],
  ) {
    super('INVALID_RECORD', `${recordName} does not match its schema at: ${paths.join(', ')}`);
  }
}

export class RegistryUnavailableError extends SerdeError {
  constructor(cause: unknown) {
    super(
      'REGISTRY_UNAVAILABLE',
      `schema registry unreachable: ${(cause as Error)?.message ?? cause}`,
      {
        cause,
        poison: false,
      },
    );
  }
}
