/**
 * Headers on every record: what a consumer, a tracer or an analyst needs without decoding the
 * value. Values are UTF-8 strings.
 */
import type { IHeaders } from '@parley/platform/kafka';
import { type Context, context, traceHeaders } from '@parley/platform/tracing';
import { SerdeError } from './errors.ts';

export const HEADERS = {
  id: 'parley.id',
  type: 'parley.type',
  correlationId: 'parley.correlation-id',
  causationId: 'parley.causation-id',
  actor: 'parley.actor',
  schemaId: 'parley.schema-id',
  contentType: 'content-type',
} as const;

/** Avro body in the Confluent wire format (magic byte, schema id, body). */
export const CONTENT_TYPE = 'application/vnd.confluent.avro';

export interface RecordHeaders {
  /** Event id for events, command id for commands. */
  id: string;
  /** Record type name, e.g. UserRegistered. */
  type: string;
  correlationId: string;
  causationId: string;
  actor: string;
  schemaId: number;
}

/**
 * A record's headers; with tracing on, also the W3C `traceparent` of the span it belongs to (the
 * active one unless given), so its consumer continues the same trace.
 */
export function writeHeaders(headers: RecordHeaders, trace: Context = context.active()): IHeaders {
  return {
    ...traceHeaders(trace),
    [HEADERS.id]: headers.id,
    [HEADERS.type]: headers.type,
    [HEADERS.correlationId]: headers.correlationId,
    [HEADERS.causationId]: headers.causationId,
    [HEADERS.actor]: headers.actor,
    [HEADERS.schemaId]: String(headers.schemaId),
    [HEADERS.contentType]: CONTENT_TYPE,
  };
}

function text(value: IHeaders[string]): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

export class MissingHeaderError extends SerdeError {
  constructor(readonly header: string) {
    super('MISSING_HEADER', `record header '${header}' is missing or invalid`);
  }
}

/** Reads and checks the headers of a consumed record; a missing one is a typed error. */
export function readHeaders(headers: IHeaders | undefined): RecordHeaders {
  const get = (name: string) => {
    const value = text(headers?.[name]);
    if (value === undefined || value === '') throw new MissingHeaderError(name);
    return value;
  };
  const schemaId = Number(get(HEADERS.schemaId));
  if (!Number.isInteger(schemaId) || schemaId < 0) throw new MissingHeaderError(HEADERS.schemaId);
  return {
    id: get(HEADERS.id),
    type: get(HEADERS.type),
    correlationId: get(HEADERS.correlationId),
    causationId: get(HEADERS.causationId),
    actor: get(HEADERS.actor),
    schemaId,
  };
}
