/**
 * The assistant's real-use path: `ASSISTANT_MODEL=openai-compatible` from config (the key from a
 * secret file), asked through the guarded call, against an HTTP endpoint on loopback that speaks
 * the OpenAI chat-completions streaming protocol (server-sent chunks, usage in the last one).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { settings as assistantSettings } from '../src/config.ts';
import { modelCaller } from '../src/model/model-call.ts';
import { chooseModel } from '../src/model/models.ts';

const KEY = 'sk-test-0123456789';
const WORDS = ['Try ', 'the ', 'grilled ', 'sardines ', 'in ', 'Alfama.'];

interface Seen {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** How the endpoint answers the next requests. */
let behaviour: 'answer' | 'fail' = 'answer';
const seen: Seen[] = [];

const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'local-model', choices, ...extra })}\n\n`;

async function answer(req: IncomingMessage, res: ServerResponse) {
  let raw = '';
  for await (const part of req) raw += part;
  seen.push({
    path: req.url ?? '',
    authorization: req.headers.authorization,
    body: JSON.parse(raw) as Record<string, unknown>,
  });
  if (behaviour === 'fail') {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
  for (const word of WORDS) {
    res.write(chunk([{ index: 0, delta: { content: word }, finish_reason: null }]));
    await new Promise((r) => setTimeout(r, 5));
  }
  res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  res.write(chunk([], { usage: { prompt_tokens: 23, completion_tokens: 6, total_tokens: 29 } }));
  res.end('data: [DONE]\n\n');
}

let server: Server;
let baseUrl: string;
let secrets: string;

before(async () => {
  server = createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  secrets = mkdtempSync(join(tmpdir(), 'parley-model-key-'));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(secrets, { recursive: true, force: true });
});

beforeEach(() => {
  behaviour = 'answer';
  seen.length = 0;
});

/** The model as the assistant makes it from its environment, the key in a mounted file. */
function configuredModel() {
  const keyFile = join(secrets, 'api-key');
  writeFileSync(keyFile, `${KEY}\n`);
  const config = loadConfig(assistantSettings, {
    source: {
      PARLEY_ENV: 'dev',
      // Required by the assistant's config; not used by the model.
      PII_MASTER_KEY: randomBytes(32).toString('base64'),
      ASSISTANT_MODEL: 'openai-compatible',
      ASSISTANT_MODEL_ID: 'local-model',
      ASSISTANT_BASE_URL: baseUrl,
      ASSISTANT_API_KEY_FILE: keyFile,
    },
  });
  return chooseModel(config);
}

const guarded = {
  firstTokenTimeoutMs: 2_000,
  replyTimeoutMs: 10_000,
  retries: 2,
  breakerFailures: 10,
  breakerHalfOpenMs: 1_000,
  maxOutputTokens: 256,
};

describe('an OpenAI-compatible endpoint from config', () => {
  it('streams the reply token by token with its usage, the key from the secret file', async () => {
    const chosen = configuredModel();
    assert.equal(chosen.provider, 'openai-compatible');
    assert.equal(chosen.modelId, 'local-model');
    const deltas: string[] = [];
    const reply = await modelCaller(chosen.model, guarded).streamReply({
      system: 'Answer briefly.',
      messages: [{ role: 'user', content: 'Where should we eat in Lisbon?' }],
      stop: new AbortController().signal,
      onDelta: (text) => deltas.push(text),
    });
    assert.deepEqual(deltas, WORDS);
    assert.equal(reply.text, WORDS.join(''));
    assert.equal(reply.finishReason, 'stop');
    assert.deepEqual(reply.usage, { inputTokens: 23, outputTokens: 6 });
    assert.equal(reply.attempts, 1);

    assert.equal(seen.length, 1);
    const [request] = seen;
    assert.equal(request?.path, '/v1/chat/completions');
    assert.equal(request?.authorization, `Bearer ${KEY}`, 'the key from the file, trimmed');
    assert.equal(request?.body.model, 'local-model');
    assert.equal(request?.body.stream, true);
    assert.deepEqual(request?.body.stream_options, { include_usage: true });
    assert.equal(request?.body.max_tokens, 256);
    assert.deepEqual(request?.body.messages, [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Where should we eat in Lisbon?' },
    ]);
  });

  it('retries an endpoint that fails before the first token, then records the failure', async () => {
    behaviour = 'fail';
    const chosen = configuredModel();
    await assert.rejects(
      modelCaller(chosen.model, { ...guarded, retries: 1 }).streamReply({
        system: 'Answer briefly.',
        messages: [{ role: 'user', content: 'Anyone there?' }],
        stop: new AbortController().signal,
        onDelta: () => assert.fail('no text from a failing endpoint'),
      }),
      (error: unknown) => {
        assert.equal((error as { reason?: string }).reason, 'provider_error');
        assert.equal((error as { attempts?: number }).attempts, 2);
        return true;
      },
    );
    assert.equal(seen.length, 2, 'the first attempt and one retry');
  });
});
