// One speech model folder (`<SOVREN_ROOT>/models/tts/<model>/` in the inference service): model.onnx, config.json and voices/<voice>.bin|npy.
// Names, vocabulary, sample rate and token limit come from config.json and the model file, never from code; the
// ONNX Runtime session is created once and reused by every request.
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PhonemeVocabulary } from '../phonemes/phoneme-vocabulary';
import { readVoicePack, styleRow, VoicePackError, type VoicePack } from './voice-pack.reader';

/** A model folder that cannot be used (the message names the file and the reason), or a voice it lacks. */
export class TtsModelError extends Error {
  override name = 'TtsModelError';

  constructor(
    readonly code: 'model_invalid' | 'voice_not_found' | 'bad_output',
    message: string,
  ) {
    super(message);
  }
}

export interface TtsModelConfig {
  sampleRate: number;
  /** Tokens per model call including the two pad tokens (Kokoro: 512). */
  maxTokens: number;
  styleDim: number;
  /** espeak-ng voice used to phonemise (en-us). */
  espeakVoice: string;
  padId: number;
  inputs: { tokens: string; style: string; speed: string };
  output: string;
  vocabulary: PhonemeVocabulary;
}

/** Execution providers (e.g. ['cuda', 'cpu'] or ['cpu']) and ONNX Runtime intra-op threads (0: its default). */
export interface OnnxExecution {
  providers: string[];
  intraOpThreads: number;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class TtsModel {
  private readonly voicePacks = new Map<string, VoicePack>();

  private constructor(
    readonly id: string,
    readonly dir: string,
    readonly config: TtsModelConfig,
    private readonly session: InferenceSession,
  ) {}

  static isValidId(id: string): boolean {
    return ID_PATTERN.test(id);
  }

  /** Creates the session and reads config.json and every voice pack (a bad folder fails here, not per request). */
  static async load(id: string, dir: string, execution: OnnxExecution): Promise<TtsModel> {
    const invalid = (message: string) => new TtsModelError('model_invalid', `speech model ${id}: ${message}`);
    const modelFile = join(dir, 'model.onnx');
    if (!existsSync(modelFile)) throw invalid('model.onnx is missing');
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw invalid(`config.json cannot be read: ${(error as Error).message}`);
    }
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(modelFile, {
        executionProviders: execution.providers,
        intraOpNumThreads: execution.intraOpThreads,
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      throw invalid(`model.onnx cannot be loaded: ${(error as Error).message}`);
    }
    try {
      const config = parseConfig(raw, session, invalid);
      const model = new TtsModel(id, dir, config, session);
      model.loadVoices(invalid);
      return model;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  get voices(): string[] {
    return [...this.voicePacks.keys()].sort();
  }

  hasVoice(voice: string): boolean {
    return this.voicePacks.has(voice);
  }

  /** Tokens one call may carry besides the two pads. */
  get maxContentTokens(): number {
    return this.config.maxTokens - 2;
  }

  /** Runs the model on token ids (pads added here) with the voice's style row for their count. */
  async synthesize(ids: readonly number[], voice: string, speed: number): Promise<Float32Array> {
    const pack = this.voicePacks.get(voice);
    if (!pack) throw new TtsModelError('voice_not_found', `voice ${voice} not found in ${this.id}`);
    if (ids.length === 0 || ids.length > this.maxContentTokens) {
      throw new RangeError(`a model call takes 1..${this.maxContentTokens} tokens, got ${ids.length}`);
    }
    const { inputs, padId, styleDim, output } = this.config;
    const tokens = BigInt64Array.from([padId, ...ids, padId].map((id) => BigInt(id)));
    const result = await this.session.run({
      [inputs.tokens]: new Tensor('int64', tokens, [1, tokens.length]),
      [inputs.style]: new Tensor('float32', styleRow(pack, ids.length), [1, styleDim]),
      [inputs.speed]: new Tensor('float32', Float32Array.from([speed]), [1]),
    });
    const waveform = result[output];
    if (!waveform || waveform.type !== 'float32') {
      throw new TtsModelError('bad_output', `model ${this.id} returned no float32 "${output}"`);
    }
    return Float32Array.from(waveform.data as Float32Array);
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private loadVoices(invalid: (message: string) => TtsModelError): void {
    const voicesDir = join(this.dir, 'voices');
    const files = existsSync(voicesDir) ? readdirSync(voicesDir) : [];
    for (const file of files.sort()) {
      const match = /^(.+)\.(bin|npy)$/.exec(file);
      if (!match || !ID_PATTERN.test(match[1])) continue;
      try {
        this.voicePacks.set(
          match[1],
          readVoicePack(readFileSync(join(voicesDir, file)), match[2] as 'bin' | 'npy', this.config.styleDim),
        );
      } catch (error) {
        if (error instanceof VoicePackError) throw invalid(`voices/${file}: ${error.message}`);
        throw error;
      }
    }
    if (this.voicePacks.size === 0) throw invalid('voices/ holds no <voice>.bin or <voice>.npy');
  }
}

function parseConfig(
  raw: Record<string, unknown>,
  session: InferenceSession,
  invalid: (message: string) => TtsModelError,
): TtsModelConfig {
  const integer = (field: string, fallback: number, min: number, max: number): number => {
    const value = raw[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(`config.json ${field} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
  const names = (raw['inputs'] ?? {}) as Record<string, unknown>;
  const tokensDefault = session.inputNames.find((n) => n === 'input_ids' || n === 'tokens') ?? 'input_ids';
  const inputs = {
    tokens: typeof names['tokens'] === 'string' ? names['tokens'] : tokensDefault,
    style: typeof names['style'] === 'string' ? names['style'] : 'style',
    speed: typeof names['speed'] === 'string' ? names['speed'] : 'speed',
  };
  for (const name of Object.values(inputs)) {
    if (!session.inputNames.includes(name)) {
      throw invalid(`the model has no input "${name}" (it has ${session.inputNames.join(', ')})`);
    }
  }
  const output = typeof raw['output'] === 'string' ? raw['output'] : session.outputNames[0];
  if (!session.outputNames.includes(output)) {
    throw invalid(`the model has no output "${output}" (it has ${session.outputNames.join(', ')})`);
  }
  const espeakVoice = raw['espeak_voice'] ?? 'en-us';
  if (typeof espeakVoice !== 'string' || !/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/i.test(espeakVoice)) {
    throw invalid('config.json espeak_voice must be an espeak-ng voice name such as en-us');
  }
  const replacements = raw['phoneme_replacements'] ?? [];
  if (
    !Array.isArray(replacements) ||
    replacements.some((r) => !Array.isArray(r) || r.length !== 2 || r.some((s) => typeof s !== 'string') || r[0] === '')
  ) {
    throw invalid('config.json phoneme_replacements must be a list of [from, to] string pairs');
  }
  let vocabulary: PhonemeVocabulary;
  try {
    vocabulary = new PhonemeVocabulary({
      vocab: raw['vocab'] as Record<string, number>,
      replacements: replacements as Array<[string, string]>,
    });
  } catch (error) {
    throw invalid(`config.json vocab: ${(error as Error).message}`);
  }
  return {
    sampleRate: integer('sample_rate', 24_000, 8_000, 192_000),
    maxTokens: integer('max_tokens', 512, 3, 100_000),
    styleDim: integer('style_dim', 256, 1, 65_536),
    espeakVoice,
    padId: integer('pad_id', 0, 0, 1_000_000),
    inputs,
    output,
    vocabulary,
  };
}
