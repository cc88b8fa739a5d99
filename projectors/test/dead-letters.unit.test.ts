import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KafkaMessage, Producer } from '@parley/platform/kafka';
import {
  DeadLetterWriter,
  DLQ_HEADERS,
  describeFailure,
  isTransient,
  REASON_MAX_LENGTH,
} from '../src/runtime/dead-letters.ts';

/** What kafkajs would refuse to encode: every header value must be a string or a Buffer. */
function assertEncodable(headers: Record<string, unknown>) {
  for (const [name, value] of Object.entries(headers)) {
    assert.ok(
      typeof value === 'string' || Buffer.isBuffer(value),
      `header ${name} is ${typeof value}`,
    );
  }
}

function capturingProducer() {
  const sent: Array<{ headers: Record<string, unknown> }> = [];
  const producer = {
    send: async ({ messages }: { messages: Array<{ headers: Record<string, unknown> }> }) => {
      sent.push(...messages);
      return [];
    },
  } as unknown as Producer;
  return { producer, sent };
}

const record = (headers: KafkaMessage['headers'] = {}): KafkaMessage =>
  ({
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    offset: '42',
    timestamp: '0',
    attributes: 0,
    headers,
  }) as KafkaMessage;

/** A MongoDB server error as the driver throws it: a numeric code (BadValue). */
class MongoServerError extends Error {
  code = 2;
  codeName = 'BadValue';
  override name = 'MongoServerError';
}

describe('dead letters', () => {
  const shapes: Array<[string, unknown]> = [
    ['a store error with a numeric code (MongoDB BadValue)', new MongoServerError('bad key')],
    [
      'an Error with a string code (PostgreSQL data exception)',
      Object.assign(new Error('invalid byte'), { code: '22021' }),
    ],
    [
      'an Error with nested causes',
      new Error('outer', { cause: new Error('middle', { cause: 7 }) }),
    ],
    ['a thrown string', 'just a string'],
    ['a thrown number', 13],
    ['a thrown plain object', { code: { nested: true }, reason: 'object' }],
    ['null', null],
    ['undefined', undefined],
    [
      'an object that cannot be stringified',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
    ],
    ['a huge message', new Error('x'.repeat(1_000_000))],
    ['a bigint code', Object.assign(new Error('big'), { code: 10n })],
  ];
  for (const [shape, thrown] of shapes) {
    it(`writes a dead letter for ${shape}, every header a capped string`, async () => {
      const { producer, sent } = capturingProducer();
      const writer = new DeadLetterWriter(producer, 'projector.x.dlq', 'x');
      await writer.write([{ topic: 't', partition: 3, message: record(), error: thrown }]);
      const headers = sent[0]?.headers ?? {};
      assertEncodable(headers);
      const reason = headers[DLQ_HEADERS.reason] as string;
      assert.ok(reason.length <= REASON_MAX_LENGTH);
      assert.ok((headers[DLQ_HEADERS.error] as string).length > 0);
      assert.equal(headers[DLQ_HEADERS.offset], '42');
      assert.equal(headers[DLQ_HEADERS.partition], '3');
    });
  }

  it('names the code and follows the causes in the reason', () => {
    assert.deepEqual(describeFailure(new MongoServerError('bad key')), {
      code: '2',
      reason: 'MongoServerError: bad key',
    });
    const nested = describeFailure(new Error('outer', { cause: new TypeError('inner') }));
    assert.equal(nested.reason, 'Error: outer <- caused by: TypeError: inner');
    assert.equal(describeFailure('plain').code, 'string');
    assert.equal(describeFailure(null).code, 'null');
  });

  it('keeps the record’s own headers and drops the ones kafkajs left undefined', async () => {
    const { producer, sent } = capturingProducer();
    const writer = new DeadLetterWriter(producer, 'projector.x.dlq', 'x');
    await writer.write([
      {
        topic: 't',
        partition: 0,
        message: record({ 'parley.event-type': Buffer.from('A'), gone: undefined }),
        error: new Error('e'),
      },
    ]);
    const headers = sent[0]?.headers ?? {};
    assert.deepEqual(headers['parley.event-type'], Buffer.from('A'));
    assert.ok(!('gone' in headers));
  });
});

describe('transient or permanent', () => {
  it('retries what goes away by itself', () => {
    const cases: unknown[] = [
      Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('x'), { code: '40P01' }),
      Object.assign(new Error('x'), { code: '57P01' }),
      Object.assign(new Error('x'), { code: '08006' }),
      Object.assign(new Error('x'), { name: 'MongoNetworkError' }),
      Object.assign(new Error('x'), { name: 'MongoServerError', code: 91 }),
      Object.assign(new Error('x'), {
        name: 'MongoServerError',
        code: 1,
        hasErrorLabel: (l: string) => l === 'RetryableWriteError',
      }),
      Object.assign(new Error('LOADING Redis is loading'), { name: 'ReplyError' }),
      new Error('Connection is closed.'),
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
      }),
      Object.assign(new Error('registry'), { poison: false }),
    ];
    for (const error of cases) assert.equal(isTransient(error), true, String(error));
  });

  it('sends a store’s permanent refusal and our own bugs to the dead letters at once', () => {
    const cases: unknown[] = [
      new MongoServerError('key contains NUL'),
      Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
        code: '22021',
      }),
      Object.assign(new Error('null value'), { code: '23502' }),
      Object.assign(new Error('WRONGTYPE'), { name: 'ReplyError' }),
      new TypeError('cannot read properties of undefined'),
      Object.assign(new Error('corrupt'), { poison: true }),
      'a string',
      null,
      // A permanent error that happens to mention a timeout in its text is still permanent.
      Object.assign(new Error('field timeout is invalid'), { code: '22P02' }),
    ];
    for (const error of cases) assert.equal(isTransient(error), false, String(error));
  });
});
