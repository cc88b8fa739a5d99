import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CorruptPayloadError,
  InvalidRecordError,
  RegistryUnavailableError,
  SchemaNotRegisteredError,
  WrongMagicByteError,
} from '../src/serde/errors.ts';

describe('serde errors over HTTP', () => {
  it('a registry that cannot answer is a dependency down: 503 with Retry-After, not poison', () => {
    for (const error of [
      new RegistryUnavailableError(new Error('connect ECONNREFUSED 127.0.0.1:18081')),
      new SchemaNotRegisteredError('chat.conversation-events-UserMessagePosted'),
    ]) {
      assert.equal(error.status, 503, error.code);
      assert.equal(error.extensions.retryAfterSeconds, 5, error.code);
      assert.equal(error.poison, false, error.code);
    }
  });

  it('bytes or a value that cannot be written are the request’s: 422, poison', () => {
    for (const error of [
      new WrongMagicByteError(7),
      new CorruptPayloadError('short read'),
      new InvalidRecordError('UserMessagePosted', ['text']),
    ]) {
      assert.equal(error.status, 422, error.code);
      assert.equal(error.extensions.retryAfterSeconds, undefined, error.code);
      assert.equal(error.poison, true, error.code);
    }
  });
});
