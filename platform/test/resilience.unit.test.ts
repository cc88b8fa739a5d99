import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, Producer } from 'kafkajs';
import { DependencyUnavailable, guard } from '../src/resilience.ts';
import { SendBatcher } from '../src/send-batcher.ts';

const options = {
  code: 'THING_UNAVAILABLE',
  detail: 'thing is down',
  timeoutMs: 50,
  attempts: 2,
  breakAfter: 3,
  halfOpenAfterMs: 4_000,
};

describe('guard', () => {
  it('retries a failed attempt once, then passes the result through', async () => {
    const guarded = guard(options);
    let calls = 0;
    const result = await guarded(async () => {
      calls += 1;
      if (calls === 1) throw new Error('flaky');
      return 'ok';
    });
    assert.equal(result, 'ok');
    assert.equal(calls, 2);
  });

  it('times out a hanging call and answers DependencyUnavailable', async () => {
    const guarded = guard(options);
    const started = Date.now();
    await assert.rejects(
      guarded((signal) => new Promise((_, reject) => signal.addEventListener('abort', reject))),
      (error: unknown) =>
        error instanceof DependencyUnavailable &&
        error.status === 503 &&
        error.code === 'THING_UNAVAILABLE' &&
        error.extensions.retryAfterSeconds === 1,
    );
    assert.ok(Date.now() - started < 1000);
  });

  it('opens after consecutive failures and then refuses without calling', async () => {
    const guarded = guard(options);
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Error('down');
    };
    for (let i = 0; i < options.breakAfter; i++) await assert.rejects(guarded(failing));
    assert.equal(guarded.isOpen(), true);
    const before = calls;
    await assert.rejects(
      guarded(failing),
      (error: unknown) =>
        error instanceof DependencyUnavailable && error.extensions.retryAfterSeconds === 4,
    );
    assert.equal(calls, before, 'an open circuit does not call');
  });

  it('says it is closed again once the trial is due, and the next call makes the trial', async () => {
    const guarded = guard({ ...options, halfOpenAfterMs: 100 });
    let healthy = false;
    const call = async () => {
      if (!healthy) throw new Error('down');
      return 'back';
    };
    for (let i = 0; i < options.breakAfter; i++) await assert.rejects(guarded(call));
    assert.equal(guarded.isOpen(), true);
    await new Promise((r) => setTimeout(r, 150));
    // Callers that skip work while isOpen() must not skip forever: no call has been made since.
    assert.equal(guarded.isOpen(), false);
    healthy = true;
    assert.equal(await guarded(call), 'back');
    assert.equal(guarded.isOpen(), false);
  });
});

/** A producer that records each request and lets the test decide when it completes. */
function recordingProducer() {
  const requests: Array<{ messages: number; finish: (error?: Error) => void }> = [];
  const producer = {
    sendBatch: ({ topicMessages }: { topicMessages: Array<{ messages: Message[] }> }) =>
      new Promise((resolve, reject) => {
        requests.push({
          messages: topicMessages.reduce((n, t) => n + t.messages.length, 0),
          finish: (error) => (error ? reject(error) : resolve([])),
        });
      }),
  } as unknown as Producer;
  return { producer, requests };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SendBatcher', () => {
  it('sends what arrives during a request as one next request', async () => {
    const { producer, requests } = recordingProducer();
    const batcher = new SendBatcher({ producer, maxMessages: 500 });
    const sends = Array.from({ length: 100 }, (_, i) => batcher.send('t', { value: `${i}` }));
    await tick();
    assert.deepEqual(
      requests.map((r) => r.messages),
      [1],
    );
    requests[0]?.finish();
    await tick();
    assert.deepEqual(
      requests.map((r) => r.messages),
      [1, 99],
    );
    requests[1]?.finish();
    await Promise.all(sends);
  });

  it('fails only the messages of a failed request', async () => {
    const { producer, requests } = recordingProducer();
    const batcher = new SendBatcher({ producer });
    const first = batcher.send('t', { value: 'a' });
    const second = batcher.send('t', { value: 'b' });
    await tick();
    requests[0]?.finish(new Error('broker said no'));
    await assert.rejects(first, /broker said no/);
    await tick();
    requests[1]?.finish();
    await second;
  });

  it('takes back a message whose caller gave up before it left', async () => {
    const { producer, requests } = recordingProducer();
    const batcher = new SendBatcher({ producer });
    const first = batcher.send('t', { value: 'a' });
    const controller = new AbortController();
    const abandoned = batcher.send('t', { value: 'b' }, controller.signal);
    await tick();
    controller.abort(new Error('timed out'));
    await assert.rejects(abandoned, /timed out/);
    assert.equal(batcher.pending, 0);
    requests[0]?.finish();
    await first;
    await tick();
    assert.equal(requests.length, 1, 'nothing left to send');
  });
});
