/**
 * The deterministic offline model: the default for development and tests, so that `npm start` and
 * every test work without a network or a key. It implements the `ai` SDK's language model
 * specification (V3), so the reactor calls it exactly as it calls a real provider: `streamText`
 * gets a first token after `firstTokenMs`, then one word at a time at `tokensPerSecond`, then
 * usage (words in, words out). The pace is kept on the model's own clock from the call, as a
 * remote provider keeps it: a caller whose event loop runs late gets the tokens already due at
 * once, instead of every later token being pushed back by its lateness. The same prompt always
 * gives the same reply. Two behaviours stand in for a broken provider: `fail` (refuses every
 * call, retryable) and `stall` (never sends a first token).
 */
import {
  APICallError,
  type LanguageModelV3,
  type LanguageModelV3CallOptions,
  type LanguageModelV3StreamPart,
  type LanguageModelV3Usage,
} from '@ai-sdk/provider';

export type OfflineBehaviour = 'answer' | 'fail' | 'stall';

export interface OfflineModelOptions {
  tokensPerSecond: number;
  firstTokenMs: number;
  behaviour?: OfflineBehaviour;
  modelId?: string;
  /** Called on every request to the model (a test counts them). */
  onCall?: () => void;
}

const SENTENCES = [
  'The simplest plan is usually the one you will keep.',
  'Start with what you already know and add one new thing at a time.',
  'Mornings are quieter, so anything popular is easier early in the day.',
  'Write the three things that matter most and let the rest be optional.',
  'A short walk between stops often shows more than the stops themselves.',
  'If two options look equal, pick the one that is easier to change later.',
  'Ask someone local: the best places are rarely the most advertised.',
  'Leave some time unplanned; that is where the good surprises fit.',
];

/** Every text of the prompt's messages, in order. */
function promptTexts(call: LanguageModelV3CallOptions): string[] {
  return call.prompt.flatMap((message) =>
    message.role === 'system'
      ? [message.content]
      : message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])),
  );
}

function lastUserText(call: LanguageModelV3CallOptions): string {
  const user = call.prompt.filter((m) => m.role === 'user').at(-1);
  if (user?.role !== 'user') return '';
  return user.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ');
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

/** A number from a text, the same for the same text. */
function seed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The reply to a prompt: about what the user wrote, then a few sentences chosen by it. */
export function offlineReply(userText: string): string {
  const topic = words(userText).slice(0, 8).join(' ');
  const n = seed(userText);
  const chosen = [0, 1, 2].map((i) => SENTENCES[(n + i * 3) % SENTENCES.length]);
  return `You asked about “${topic}”. ${chosen.join(' ')}`;
}

/** A title for a conversation from its first message: its first words. */
export function offlineTitle(userText: string): string {
  const first = words(userText.replace(/[^\p{L}\p{N}\s]/gu, ' ')).slice(0, 6);
  const title = first.join(' ') || 'New conversation';
  return title.charAt(0).toUpperCase() + title.slice(1);
}

const usage = (input: number, output: number): LanguageModelV3Usage => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});

const refusal = () =>
  new APICallError({
    message: 'the offline model is set to fail (ASSISTANT_MODEL=offline:fail)',
    url: 'offline://model',
    requestBodyValues: {},
    statusCode: 503,
    isRetryable: true,
  });

/** Waits, or rejects as soon as the call is aborted. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function offlineModel(options: OfflineModelOptions): LanguageModelV3 {
  const behaviour = options.behaviour ?? 'answer';
  const msPerToken = 1000 / options.tokensPerSecond;
  return {
    specificationVersion: 'v3',
    provider: 'offline',
    modelId: options.modelId ?? 'parley-offline-1',
    supportedUrls: {},

    async doGenerate(call) {
      options.onCall?.();
      if (behaviour === 'fail') throw refusal();
      if (behaviour === 'stall') await pause(2 ** 31 - 1, call.abortSignal);
      const text = offlineTitle(lastUserText(call));
      return {
        content: [{ type: 'text', text }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: usage(words(promptTexts(call).join(' ')).length, words(text).length),
        warnings: [],
      };
    },

    async doStream(call) {
      options.onCall?.();
      if (behaviour === 'fail') throw refusal();
      const input = words(promptTexts(call).join(' ')).length;
      const reply = words(offlineReply(lastUserText(call)));
      const limit = call.maxOutputTokens ?? reply.length;
      const signal = call.abortSignal;
      const asked = performance.now();
      /** How long until token `n` is due: on the model's clock, not after the last one was read. */
      const untilToken = (n: number) =>
        Math.max(0, asked + options.firstTokenMs + n * msPerToken - performance.now());
      // Tokens already due (a busy caller came late) go at once, as a provider's would.
      const tokenDue = (n: number) => {
        const wait = untilToken(n);
        return wait > 0 ? pause(wait, signal) : undefined;
      };
      let sent = 0;
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        async start(controller) {
          try {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            await pause(behaviour === 'stall' ? 2 ** 31 - 1 : untilToken(0), signal);
            controller.enqueue({ type: 'text-start', id: 'text-0' });
            for (const word of reply.slice(0, limit)) {
              if (sent > 0) await tokenDue(sent);
              controller.enqueue({
                type: 'text-delta',
                id: 'text-0',
                delta: sent === 0 ? word : ` ${word}`,
              });
              sent += 1;
            }
            controller.enqueue({ type: 'text-end', id: 'text-0' });
            const finished = sent < reply.length ? 'length' : 'stop';
            controller.enqueue({
              type: 'finish',
              usage: usage(input, sent),
              finishReason: { unified: finished, raw: finished },
            });
            controller.close();
          } catch (error) {
            controller.error(error);
          }
        },
      });
      return { stream };
    },
  };
}
