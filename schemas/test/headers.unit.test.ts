import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TruncatedPayloadError, WrongMagicByteError } from '../src/serde/errors.ts';
import {
  CONTENT_TYPE,
  HEADERS,
  MissingHeaderError,
  readHeaders,
  writeHeaders,
} from '../src/serde/headers.ts';
import { frame, unframe } from '../src/serde/wire-format.ts';

const headers = {
  id: '5b0c0a57-52d3-4e39-9d4b-9f1b8c2d3e4f',
  type: 'UserRegistered',
  correlationId: 'req-1',
  causationId: 'cmd-1',
  actor: 'user:5b0c0a57-52d3-4e39-9d4b-9f1b8c2d3e4f',
  schemaId: 42,
};

it('writes every header and reads them back from the bytes a consumer sees', () => {
  const written = writeHeaders(headers);
  assert.equal(written[HEADERS.contentType], CONTENT_TYPE);
  const asConsumed = Object.fromEntries(
    Object.entries(written).map(([k, v]) => [k, Buffer.from(String(v))]),
  );
  assert.deepEqual(readHeaders(asConsumed), headers);
});

it('names a missing or malformed header', () => {
  const written = writeHeaders(headers);
  delete written[HEADERS.correlationId];
  assert.throws(
    () => readHeaders(written),
    (e: unknown) => e instanceof MissingHeaderError && e.header === HEADERS.correlationId,
  );
  assert.throws(
    () => readHeaders({ ...writeHeaders(headers), [HEADERS.schemaId]: 'x' }),
    MissingHeaderError,
  );
  assert.throws(() => readHeaders(undefined), MissingHeaderError);
});

it('frames and unframes the Confluent wire format, refusing what is not it', () => {
  const payload = frame(7, Buffer.from([1, 2, 3]));
  assert.deepEqual([...payload], [0, 0, 0, 0, 7, 1, 2, 3]);
  assert.deepEqual(unframe(payload), { schemaId: 7, body: Buffer.from([1, 2, 3]) });
  assert.throws(() => unframe(Buffer.from([1, 0, 0, 0, 7])), WrongMagicByteError);
  assert.throws(() => unframe(Buffer.from([0, 0, 0])), TruncatedPayloadError);
  assert.throws(() => unframe(Buffer.alloc(0)), TruncatedPayloadError);
});
