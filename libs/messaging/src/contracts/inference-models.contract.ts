// Reply to `inference.models` (INFERENCE_MODELS): every model file the inference service found, and its state.

import { ContractFieldReader } from './contract-field.reader';

export const INFERENCE_MODEL_STATES = ['unloaded', 'loading', 'loaded', 'failed'] as const;
export type InferenceModelState = (typeof INFERENCE_MODEL_STATES)[number];
/** The model registry's kinds: llm, a GGUF language model (models/llms); whisper, a speech recogniser (models/whisper). */
export const INFERENCE_MODEL_KINDS = ['llm', 'whisper'] as const;
export type InferenceModelKind = (typeof INFERENCE_MODEL_KINDS)[number];
/** What `inference.models` lists: the registry's models and the speech synthesis folders (models/tts). */
export const INFERENCE_LISTED_MODEL_KINDS = [...INFERENCE_MODEL_KINDS, 'tts'] as const;
export type InferenceListedModelKind = (typeof INFERENCE_LISTED_MODEL_KINDS)[number];

export interface InferenceModelV1 {
  /** The model file's stem (ggml-<id>.bin for Whisper); what requests name as `model`. */
  id: string;
  /** What the model does; absent in replies of services older than Whisper in the registry, which meant llm. */
  kind?: InferenceListedModelKind;
  state: InferenceModelState;
  /** Why the last load failed (state `failed`). */
  error?: string;
  /** Tokens per sequence, once loaded. */
  contextSize?: number;
}

export interface InferenceModelsReplyV1 {
  v: 1;
  models: InferenceModelV1[];
}

export function parseInferenceModelsReplyV1(raw: unknown): InferenceModelsReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceModelsReplyV1', raw);
  const v = r.version(1);
  const list = (raw as Record<string, unknown>)['models'];
  if (!Array.isArray(list)) r.fail('models', 'must be an array');
  const models = list.map((item, index) => {
    const m: ContractFieldReader = new ContractFieldReader(`InferenceModelsReplyV1.models[${index}]`, item);
    const model: InferenceModelV1 = { id: m.string('id', 256), state: m.oneOf('state', INFERENCE_MODEL_STATES) };
    if ((item as Record<string, unknown> | null)?.['kind'] !== undefined) {
      model.kind = m.oneOf('kind', INFERENCE_LISTED_MODEL_KINDS);
    }
    const error = m.optionalString('error', 4096);
    if (error !== undefined) model.error = error;
    const contextSize = m.optionalNumber('contextSize', { min: 1, integer: true });
    if (contextSize !== undefined) model.contextSize = contextSize;
    return model;
  });
  return { v, models };
}
