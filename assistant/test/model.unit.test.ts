import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { streamText } from 'ai';
import { modelCaller, ReplyFailed, usageOf } from '../src/model/model-call.ts';
import { offlineModel, offlineReply } from '../src/model/offline-model.ts';

const ask = { role: 'user' as const, content: 'Where should we eat in Lisbon tonight?' };
const fast = (behaviour: 'answer' | 'fail' | 'stall' = 'answer', onCall?: () => void) =>
  offlineModel({
    tokensPerSecond: 2_000,
    firstTokenMs: 5,
    behaviour,
    ...(onCall ? { onCall } : {}),
  });
const settings = {
  firstTokenTimeoutMs: 300,
  replyTimeoutMs: 5_000,
  retries: 2,
  breakerFailures: 3,
  breakerHalfOpenMs: 300,
  maxOutputTokens: 1_000,
};
const request = (onDelta: (t: string) => void = () => {}, stop = new AbortController().signal) => ({
  system: 'be brief',
  messages: [ask],
  stop,
  onDelta,
});

describe('the offline model', () => {
  it('streams the same reply for the same prompt, token by token, with its usage', async () => {
    const run = async () => {
      const result = streamText({ model: fast(), messages: [ask], maxRetries: 0 });
      const parts: string[] = [];
      for await (const delta of result.textStream) parts.push(delta);
      return { parts, usage: await result.totalUsage };
    };
    const [a, b] = [await run(), await run()];
    assert.equal(a.parts.join(''), offlineReply(ask.content));
    assert.equal(a.parts.join(''), b.parts.join(''));
    assert.ok(a.parts.length > 10, 'one word a delta');
    assert.equal(a.usage.outputTokens, a.parts.length);
    assert.ok((a.usage.inputTokens ?? 0) >= 7);
  });

  it('keeps its pace: first token after its delay, then tokens at its rate', async () => {
    const model = offlineModel({ tokensPerSecond: 100, firstTokenMs: 150 });
    const started = performance.now();
    const result = streamText({ model, messages: [ask], maxRetries: 0 });
    let first = 0;
    let count = 0;
    for await (const _ of result.textStream) {
      if (count === 0) first = performance.now() - started;
      count += 1;
    }
    const total = performance.now() - started;
    assert.ok(first >= 140, `first token after ${first} ms`);
    assert.ok(total >= 150 + (count - 1) * 9, `${count} tokens in ${total} ms`);
  });

  it('keeps its pace on its own clock: a caller that was busy gets the tokens due at once', async () => {
    const model = offlineModel({ tokensPerSecond: 100, firstTokenMs: 50 });
    const started = performance.now();
    const result = streamText({ model, messages: [ask], maxRetries: 0 });
    let count = 0;
    for await (const _ of result.textStream) {
      // The caller's event loop is held up for 200 ms after the first token, as under load.
      if (count === 0) while (performance.now() - started < 250);
      count += 1;
    }
    const total = performance.now() - started;
    const onItsClock = 50 + (count - 1) * 10;
    // Paced from the last token read, the 200 ms would be added to the reply's end.
    assert.ok(total < onItsClock + 150, `${count} tokens in ${total} ms (due by ${onItsClock})`);
    assert.ok(total >= onItsClock - 5, `${count} tokens in ${total} ms, before they were due`);
  });
});

describe('a guarded reply', () => {
  it('returns the text, usage, first-token delay and duration', async () => {
    const deltas: string[] = [];
    const reply = await modelCaller(fast(), settings).streamReply(request((t) => deltas.push(t)));
    assert.equal(reply.text, offlineReply(ask.content));
    assert.equal(deltas.join(''), reply.text);
    assert.equal(reply.finishReason, 'stop');
    assert.ok(reply.usage.outputTokens > 0 && reply.usage.inputTokens > 0);
    assert.ok(reply.firstTokenMs >= 4 && reply.durationMs >= reply.firstTokenMs);
    assert.equal(reply.attempts, 1);
  });

  it('retries before the first token, then fails with the reason', async () => {
    let calls = 0;
    const caller = modelCaller(
      fast('fail', () => calls++),
      { ...settings, breakerFailures: 100 },
    );
    await assert.rejects(caller.streamReply(request()), (error: unknown) => {
      assert.ok(error instanceof ReplyFailed);
      assert.equal(error.reason, 'provider_error');
      return true;
    });
    assert.equal(calls, 3, 'the first attempt and two retries');
  });

  it('fails a model that never sends a first token within the first-token timeout', async () => {
    const caller = modelCaller(fast('stall'), { ...settings, retries: 0 });
    const started = performance.now();
    await assert.rejects(caller.streamReply(request()), (error: unknown) => {
      assert.ok(error instanceof ReplyFailed);
      assert.equal(error.reason, 'first_token_timeout');
      return true;
    });
    const took = performance.now() - started;
    assert.ok(took >= 290 && took < 2_000, `failed after ${took} ms`);
  });

  it('opens the breaker after failures in a row (then refuses at once), and closes it again', async () => {
    let broken = true;
    let calls = 0;
    const healthy = fast();
    const failing = fast('fail');
    const toggling: LanguageModelV3 = {
      ...healthy,
      doGenerate: (o) => (broken ? failing : healthy).doGenerate(o),
      doStream: (o) => {
        calls += 1;
        return (broken ? failing : healthy).doStream(o);
      },
    };
    const caller = modelCaller(toggling, { ...settings, retries: 0 });
    for (let i = 0; i < 3; i++) await assert.rejects(caller.streamReply(request()));
    assert.equal(caller.breakerState(), 'open');
    const before = calls;
    await assert.rejects(caller.streamReply(request()), (error: unknown) => {
      assert.ok(error instanceof ReplyFailed);
      assert.equal(error.reason, 'model_unavailable');
      return true;
    });
    assert.equal(calls, before, 'no call while open');
    broken = false;
    await new Promise((r) => setTimeout(r, 350));
    const reply = await caller.streamReply(request());
    assert.equal(reply.finishReason, 'stop');
    assert.equal(caller.breakerState(), 'closed');
  });

  it('stops when asked: what was written is the reply, marked stopped, never retried', async () => {
    let calls = 0;
    const slow = offlineModel({ tokensPerSecond: 50, firstTokenMs: 5, onCall: () => calls++ });
    const stop = new AbortController();
    const deltas: string[] = [];
    const reply = await modelCaller(slow, settings).streamReply(
      request((t) => {
        deltas.push(t);
        if (deltas.length === 3) stop.abort(new Error('stopped'));
      }, stop.signal),
    );
    assert.equal(reply.finishReason, 'stopped');
    assert.equal(reply.text, deltas.join(''));
    assert.ok(reply.text.length > 0 && reply.text.length < offlineReply(ask.content).length);
    assert.equal(calls, 1);
  });

  it('does not retry once text was sent: a failure after the first token fails the reply', async () => {
    let calls = 0;
    const healthy = fast();
    const breaksMidway: LanguageModelV3 = {
      ...healthy,
      doStream: async (o) => {
        calls += 1;
        const { stream } = await healthy.doStream(o);
        let seen = 0;
        return {
          stream: stream.pipeThrough(
            new TransformStream({
              transform(part, controller) {
                if (part.type === 'text-delta' && ++seen === 3) {
                  controller.error(new Error('connection reset'));
                  return;
                }
                controller.enqueue(part);
              },
            }),
          ),
        };
      },
    };
    await assert.rejects(modelCaller(breaksMidway, settings).streamReply(request()), ReplyFailed);
    assert.equal(calls, 1);
  });
});

describe('a reply stopped by the user', () => {
  it('asks the model nothing when it was stopped before it began', async () => {
    let calls = 0;
    const stop = new AbortController();
    stop.abort(new Error('stopped'));
    const reply = await modelCaller(
      fast('answer', () => calls++),
      settings,
    ).streamReply(request(() => {}, stop.signal));
    assert.equal(reply.finishReason, 'stopped');
    assert.equal(reply.text, '');
    assert.equal(calls, 0);
  });

  it('is no failure of the model: stops in a row leave the breaker closed', async () => {
    const caller = modelCaller(fast(), { ...settings, breakerFailures: 2 });
    for (let i = 0; i < 4; i++) {
      const stop = new AbortController();
      stop.abort(new Error('stopped'));
      await caller.streamReply(request(() => {}, stop.signal));
    }
    assert.equal(caller.breakerState(), 'closed');
    assert.equal((await caller.streamReply(request())).finishReason, 'stop');
  });
});

describe('a provider’s usage as recorded', () => {
  it('keeps whole counts, and makes what is missing or nonsense 0 or the largest int', () => {
    assert.deepEqual(usageOf({ inputTokens: 12, outputTokens: 30 }), {
      inputTokens: 12,
      outputTokens: 30,
    });
    assert.deepEqual(usageOf({}), { inputTokens: 0, outputTokens: 0 });
    assert.deepEqual(usageOf({ inputTokens: -5, outputTokens: Number.NaN }), {
      inputTokens: 0,
      outputTokens: 0,
    });
    assert.deepEqual(usageOf({ inputTokens: 2.6, outputTokens: 1e12 }), {
      inputTokens: 3,
      outputTokens: 2 ** 31 - 1,
    });
  });
});
