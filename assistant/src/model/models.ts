/**
 * The model the assistant asks, from config: the deterministic offline model by default (no
 * network, no key), or any OpenAI-compatible endpoint (base URL, model id, key from a secret
 * file), streaming with usage reported.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { type OfflineBehaviour, offlineModel } from './offline-model.ts';

export interface ModelSettings {
  ASSISTANT_MODEL: string;
  ASSISTANT_MODEL_ID: string;
  ASSISTANT_BASE_URL: string;
  ASSISTANT_API_KEY: string;
  ASSISTANT_OFFLINE_TOKENS_PER_SECOND: number;
  ASSISTANT_OFFLINE_FIRST_TOKEN_MS: number;
}

export interface ChosenModel {
  model: LanguageModelV3;
  /** What the recorded reply names: the provider and the model. */
  provider: string;
  modelId: string;
}

export class ModelConfigError extends Error {}

export function chooseModel(settings: ModelSettings): ChosenModel {
  if (settings.ASSISTANT_MODEL === 'openai-compatible') {
    if (!settings.ASSISTANT_BASE_URL) {
      throw new ModelConfigError(
        'ASSISTANT_BASE_URL is required for ASSISTANT_MODEL=openai-compatible',
      );
    }
    const provider = createOpenAICompatible({
      name: 'openai-compatible',
      baseURL: settings.ASSISTANT_BASE_URL,
      ...(settings.ASSISTANT_API_KEY ? { apiKey: settings.ASSISTANT_API_KEY } : {}),
      includeUsage: true,
    });
    return {
      model: provider.chatModel(settings.ASSISTANT_MODEL_ID),
      provider: 'openai-compatible',
      modelId: settings.ASSISTANT_MODEL_ID,
    };
  }
  const behaviour: OfflineBehaviour =
    settings.ASSISTANT_MODEL === 'offline:fail'
      ? 'fail'
      : settings.ASSISTANT_MODEL === 'offline:stall'
        ? 'stall'
        : 'answer';
  return {
    model: offlineModel({
      tokensPerSecond: settings.ASSISTANT_OFFLINE_TOKENS_PER_SECOND,
      firstTokenMs: settings.ASSISTANT_OFFLINE_FIRST_TOKEN_MS,
      behaviour,
      modelId: settings.ASSISTANT_MODEL_ID,
    }),
    provider: 'offline',
    modelId: settings.ASSISTANT_MODEL_ID,
  };
}
