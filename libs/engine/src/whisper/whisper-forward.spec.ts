// Whisper on the native engine against the float64 reference (testing/whisper-reference.ts) on generated tiny models
// in whisper.cpp's file format: the log-mel front end, the encoder, the decoder logits for every weight type, greedy
// transcripts token for token, language detection, batching, cancellation and bad input.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { relativeL2 } from '../testing/reference-forward';
import {
  WhisperType,
  whisperMelCentre,
  writeTinyWhisperModel,
  type TinyWhisperModel,
} from '../testing/whisper-model-writer';
import {
  WHISPER_WINDOW_FRAMES,
  referenceDecode,
  referenceEncode,
  referenceWhisperBeam,
  referenceWhisperEncode,
  referenceWhisperGreedy,
  referenceLogMel,
} from '../testing/whisper-reference';
import { EngineWhisper } from './whisper';

// Generating models and the float64 reference are slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(300_000);

const AUDIO_CTX = 32; // 64 mel frames (0.64 s) keep the float64 encoder cheap

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-whisper-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic test signal: two tones and a little noise. */
function testAudio(seconds: number, seed = 1): Float32Array {
  const n = Math.round(seconds * 16000);
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] =
      0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) +
      0.2 * Math.sin((2 * Math.PI * (1200 + 300 * seed) * i) / 16000) +
      0.05 * (s / 2 ** 32 - 0.5);
  }
  return out;
}

/** [nMels][3000] reference layout -> the native time-major [frames][nMels]. */
function timeMajor(mel: Float64Array, nMels: number, frames: number): Float64Array {
  const out = new Float64Array(frames * nMels);
  for (let t = 0; t < frames; t++)
    for (let m = 0; m < nMels; m++) out[t * nMels + m] = mel[m * WHISPER_WINDOW_FRAMES + t];
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function tinyModel(
  file: string,
  type: WhisperType,
  extra: Parameters<typeof writeTinyWhisperModel>[1] = {},
): Promise<{ tiny: TinyWhisperModel; model: EngineWhisper }> {
  const tiny = writeTinyWhisperModel(join(dir, file), { type, ...extra });
  const model = await EngineWhisper.load(tiny.path, { threads: 2 });
  return { tiny, model };
}

/** Worst relative L2 error of the native logits at every position of `tokens` against the reference. */
function worstLogitError(model: EngineWhisper, tiny: TinyWhisperModel, pcm: Float32Array, tokens: number[]): number {
  const nVocab = tiny.weights.hparams.nVocab;
  const nMels = tiny.weights.hparams.nMels;
  const mel = referenceLogMel(pcm, tiny.weights.melFilters, nMels);
  const encoded = referenceEncode(tiny.weights, mel, AUDIO_CTX);
  const reference = referenceDecode(tiny.weights, encoded, tokens);
  const native = model.logits(pcm, tokens, AUDIO_CTX);
  return Math.max(...tokens.map((_, t) => relativeL2(native.subarray(t * nVocab, (t + 1) * nVocab), reference[t])));
}

function startSequence(model: EngineWhisper, language = 'en'): number[] {
  const st = model.info().specialTokens;
  const lang = st.firstLanguage + ['en', 'zh', 'de'].indexOf(language);
  return [st.sot, lang, st.transcribe, st.noTimestamps];
}

describe('F32 multilingual model', () => {
  let tiny: TinyWhisperModel;
  let model: EngineWhisper;
  const pcm = testAudio(0.5);
  beforeAll(async () => ({ tiny, model } = await tinyModel('f32.bin', WhisperType.F32)));
  afterAll(() => model.close());

  it('reports the file hparams and the special tokens whisper.cpp derives from n_vocab 51865', () => {
    const info = model.info();
    expect(info).toMatchObject({ nVocab: 51865, nAudioCtx: 1500, nAudioState: 64, nMels: 80, multilingual: true });
    expect(info.specialTokens).toEqual({
      eot: 50257,
      sot: 50258,
      firstLanguage: 50259,
      languageCount: 99,
      translate: 50358,
      transcribe: 50359,
      startOfLm: 50360,
      previous: 50361,
      noSpeech: 50362,
      noTimestamps: 50363,
      timestampBegin: 50364,
    });
  });

  it('computes the log-mel window like audio.py (float64 reference within 2e-4)', () => {
    const native = model.logMel(pcm, AUDIO_CTX);
    const reference = referenceLogMel(pcm, tiny.weights.melFilters, 80);
    expect(native.length).toBe(2 * AUDIO_CTX * 80);
    expect(maxAbsDiff(native, timeMajor(reference, 80, 2 * AUDIO_CTX))).toBeLessThan(2e-4);
  });

  it('encodes like the reference (relative L2 < 1e-4), with the full and a reduced audio_ctx', () => {
    const mel = referenceLogMel(pcm, tiny.weights.melFilters, 80);
    for (const ctx of [AUDIO_CTX, 8]) {
      expect(relativeL2(model.encode(pcm, ctx), referenceEncode(tiny.weights, mel, ctx))).toBeLessThan(1e-4);
    }
  });

  it('gives the reference logits at every position (relative L2 < 1e-4), in one step or token by token', () => {
    const tokens = [...startSequence(model), 400, 1200, 77, 50000, 3];
    expect(worstLogitError(model, tiny, pcm, tokens)).toBeLessThan(1e-4);
    const oneStep = model.logits(pcm, tokens, AUDIO_CTX);
    const tokenByToken = model.logits(pcm, tokens, AUDIO_CTX, 1);
    expect(relativeL2(tokenByToken, oneStep)).toBeLessThan(1e-5);
  });

  /** The tokens Whisper never samples, found in the generated vocabulary the way the engine finds them. */
  function suppressedTokens(timestamps: boolean): { suppress: number[]; blank: number } {
    const st = model.info().specialTokens;
    const suppress: number[] = [];
    for (let id = st.sot; id < st.timestampBegin; id++) suppress.push(id);
    if (!timestamps) for (let id = st.timestampBegin; id < 51865; id++) suppress.push(id);
    // Non-speech symbols that are single tokens of the generated vocabulary (bare or after a space).
    const symbols = ['"', '#', '(', ')', '*', '+', '/', ':', ';', '<', '=', '>', '@', '[', '\\', ']', '^', '_', '`'];
    const more = ['{', '|', '}', '~', '<<', '>>', '<<<', '>>>', '--', '---', '-(', '-[', "('", '("', '((', '))'];
    const all = [...symbols, ...more, '(((', ')))', '[[', ']]', '{{', '}}'];
    tiny.vocab.forEach((bytes, id) => {
      const text = Buffer.from(bytes).toString('latin1');
      const spaced = text.startsWith(' ') && all.includes(text.slice(1));
      if (all.includes(text) || spaced || text === ' -' || text === " '") suppress.push(id);
    });
    return { suppress, blank: tiny.vocab.findIndex((b) => b.length === 1 && b[0] === 0x20) };
  }

  function expectedGreedy(initial: number[], maxTokens: number, timestamps: boolean): number[] {
    const st = model.info().specialTokens;
    const { suppress, blank } = suppressedTokens(timestamps);
    const mel = referenceLogMel(pcm, tiny.weights.melFilters, 80);
    const encoded = referenceEncode(tiny.weights, mel, AUDIO_CTX);
    return referenceWhisperGreedy(tiny.weights, encoded, {
      initial,
      maxTokens,
      suppress,
      suppressAtStart: [blank, st.eot],
      eot: st.eot,
      timestampBegin: timestamps ? st.timestampBegin : undefined,
    });
  }

  it('transcribes greedily token for token like the reference', async () => {
    const expected = expectedGreedy(startSequence(model), 12, false);
    const result = await model.transcribe(pcm, { language: 'en', temperature: 0, maxTokens: 12, audioCtx: AUDIO_CTX });
    expect(result.tokens).toEqual(expected);
    expect(result.text).toBe(model.detokenize(expected));
    expect(result.language).toBe('en');
    expect(result.segments).toHaveLength(1);
    expect(result.audioSeconds).toBeCloseTo(0.5, 6);
  });

  it("follows Whisper's timestamp rules token for token, and cuts segments at timestamp pairs", async () => {
    const st = model.info().specialTokens;
    const initial = startSequence(model).slice(0, 3); // no <|notimestamps|>
    const expected = expectedGreedy(initial, 16, true);
    const result = await model.transcribe(pcm, {
      language: 'en',
      temperature: 0,
      maxTokens: 16,
      audioCtx: AUDIO_CTX,
      timestamps: true,
    });
    expect(result.tokens).toEqual(expected);
    expect(result.tokens[0]).toBeGreaterThanOrEqual(st.timestampBegin);
    expect(result.tokens[0]).toBeLessThanOrEqual(st.timestampBegin + 50);
    const times = result.tokens.filter((t) => t >= st.timestampBegin);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const segment of result.segments) {
      expect(segment.end).toBeGreaterThanOrEqual(segment.start);
      expect(segment.tokens.every((t) => t < st.eot)).toBe(true);
    }
  });

  it('encodes text with byte-level BPE over the ranks and decodes it back byte for byte', () => {
    const texts = ['hello world', ' the quick brown fox', 'ünïcödé – 日本語 🎉', "it's 42 o'clock!\n\ttabs", ''];
    for (const text of texts) {
      const ids = model.tokenize(text);
      expect(ids.every((id) => id >= 0 && id < 50257)).toBe(true);
      expect(model.detokenize(ids)).toBe(text);
    }
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(model.tokenBytes(model.tokenize(bytes)).equals(bytes)).toBe(true);
    // The same ids as tiktoken's algorithm (reference) on the generated ranks, merges included.
    for (const text of [...texts, 'ethan sat on the tea tin; "no, it is not" he said', 'aaaa  bbbb\n\n  ']) {
      expect(model.tokenize(text)).toEqual(referenceWhisperEncode(tiny.vocab, text));
    }
    expect(model.tokenize(' the quick brown fox').length).toBeLessThan(Buffer.byteLength(' the quick brown fox'));
  });

  it('feeds a text prompt after <|startofprev|> as Whisper does, token for token like the reference', async () => {
    const st = model.info().specialTokens;
    const promptIds = model.tokenize(' the end');
    const expected = expectedGreedy([st.previous, ...promptIds, ...startSequence(model)], 8, false);
    const result = await model.transcribe(pcm, {
      language: 'en',
      temperature: 0,
      maxTokens: 8,
      audioCtx: AUDIO_CTX,
      prompt: '  the end ',
    });
    expect(result.tokens).toEqual(expected);
  });

  it('runs beam search (size 5) token for token like the reference BeamSearchDecoder', async () => {
    const st = model.info().specialTokens;
    const { suppress, blank } = suppressedTokens(false);
    const mel = referenceLogMel(pcm, tiny.weights.melFilters, 80);
    const encoded = referenceEncode(tiny.weights, mel, AUDIO_CTX);
    const options = { initial: startSequence(model), maxTokens: 10, suppress, suppressAtStart: [blank, st.eot] };
    const expected = referenceWhisperBeam(tiny.weights, encoded, { ...options, eot: st.eot, beamSize: 5 });
    const greedy = expectedGreedy(startSequence(model), 10, false);
    const result = await model.transcribe(pcm, {
      language: 'en',
      temperature: 0,
      maxTokens: 10,
      audioCtx: AUDIO_CTX,
      beamSize: 5,
    });
    expect(result.tokens).toEqual(expected.tokens);
    // Whisper's avg_logprob: the summed log-probabilities (end of text included) / (tokens + 1).
    expect(result.avgLogprob).toBeCloseTo(expected.sumLogprob / (expected.tokens.length + 1), 4);
    expect(expected.tokens).not.toEqual(greedy); // the search found a better sequence than greedy on this model
  });

  it('detects the language as the most likely language token after <|startoftranscript|>', async () => {
    const st = model.info().specialTokens;
    const mel = referenceLogMel(pcm, tiny.weights.melFilters, 80);
    const encoded = referenceEncode(tiny.weights, mel, AUDIO_CTX);
    const [row] = referenceDecode(tiny.weights, encoded, [st.sot]);
    let best = st.firstLanguage;
    for (let id = st.firstLanguage; id < st.firstLanguage + 99; id++) if (row[id] > row[best]) best = id;
    const result = await model.transcribe(pcm, { temperature: 0, maxTokens: 2, audioCtx: AUDIO_CTX });
    const codes = ['en', 'zh', 'de', 'es', 'ru', 'ko', 'fr', 'ja', 'pt', 'tr', 'pl', 'ca', 'nl', 'ar', 'sv', 'it'];
    const index = best - st.firstLanguage;
    if (index < codes.length) expect(result.language).toBe(codes[index]);
    expect(result.language).toMatch(/^[a-z]{2,3}$/);
  });

  it('batches concurrent calls into one native pass with the results of separate calls', async () => {
    const audios = [testAudio(0.4, 1), testAudio(0.6, 2), testAudio(0.3, 3)];
    const options = { language: 'en', temperature: 0, maxTokens: 6, audioCtx: AUDIO_CTX };
    const alone = [];
    for (const a of audios) alone.push(await model.transcribe(a, options));
    await new Promise((resolve) => setImmediate(resolve)); // the model is idle: nothing in flight to queue behind
    const together = await Promise.all(audios.map((a) => model.transcribe(a, options)));
    expect(together.map((r) => r.tokens)).toEqual(alone.map((r) => r.tokens));
    expect(alone.map((r) => r.timings.batchSize)).toEqual([1, 1, 1]);
    expect(together.map((r) => r.timings.batchSize)).toEqual([3, 3, 3]); // calls of one tick share a batch
  });

  it('resolves an aborted transcription with cancelled: true', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await model.transcribe(pcm, { language: 'en', signal: controller.signal, audioCtx: AUDIO_CTX });
    expect(result.cancelled).toBe(true);
    expect(result.tokens).toEqual([]);
  });

  it('refuses bad audio and options with clear errors', async () => {
    await expect(model.transcribe(new Float32Array(0))).rejects.toThrow('audio is empty');
    await expect(model.transcribe(new Float32Array(30 * 16000 + 1))).rejects.toThrow('longer than 30 s');
    await expect(model.transcribe(pcm, { beamSize: 0 })).rejects.toThrow('beamSize');
    await expect(model.transcribe(pcm, { audioCtx: 1501 })).rejects.toThrow('audioCtx');
    await expect(model.transcribe(pcm, { language: 'xx', audioCtx: AUDIO_CTX })).rejects.toThrow(
      "unknown language 'xx'",
    );
    expect(() => model.logMel(new Float64Array(10) as unknown as Float32Array)).toThrow('Float32Array');
  });
});

describe('front end on hand-computable inputs', () => {
  let tiny: TinyWhisperModel;
  let model: EngineWhisper;
  beforeAll(
    async () => ({ tiny, model } = await tinyModel('frontend.bin', WhisperType.F32, { nAudioLayer: 1, nTextLayer: 1 })),
  );
  afterAll(() => model.close());

  it('maps silence to (log10(1e-10) + 4) / 4 = -1.5 everywhere', () => {
    const mel = model.logMel(new Float32Array(16000), 50);
    expect(Math.max(...mel)).toBe(-1.5);
    expect(Math.min(...mel)).toBe(-1.5);
  });

  it('spreads an impulse over every band of the frames that see it, and nowhere else', () => {
    const pcm = new Float32Array(16000);
    pcm[8000] = 1; // frame 50 is centred on it; frames 49..51 see it through the window
    const mel = model.logMel(pcm, 50);
    const frame = (t: number): Float32Array => mel.subarray(t * 80, (t + 1) * 80);
    expect(Math.min(...frame(50))).toBeGreaterThan(-1.5);
    // The global max is 0 dB-ish in frame 50; frames far away sit at the clamp floor.
    expect(Math.max(...frame(10))).toBeCloseTo(Math.max(...frame(50)) - 2, 5);
    const reference = timeMajor(referenceLogMel(pcm, tiny.weights.melFilters, 80), 80, 100);
    expect(maxAbsDiff(mel, reference)).toBeLessThan(2e-4);
  });

  it('puts a pure tone at a mel band centre into that band', () => {
    for (const band of [10, 40, 70]) {
      const hz = whisperMelCentre(80, band);
      const pcm = new Float32Array(16000);
      for (let i = 0; i < pcm.length; i++) pcm[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / 16000);
      const mel = model.logMel(pcm, 50);
      const frame = Array.from(mel.subarray(50 * 80, 51 * 80));
      expect(frame.indexOf(Math.max(...frame))).toBe(band);
    }
  });

  it('reads the filter bank from the file (a file with a different bank gives a different spectrum)', async () => {
    const bytes = readFileSync(tiny.path);
    // The bank starts after the magic, 11 hparams and its two dimensions: zero it, and every band reads silence.
    bytes.fill(0, 4 * 14, 4 * 14 + 80 * 201 * 4);
    const path = join(dir, 'zero-bank.bin');
    writeFileSync(path, bytes);
    const zeroed = await EngineWhisper.load(path, { threads: 1 });
    const mel = zeroed.logMel(testAudio(0.5), 50);
    expect(Math.max(...mel)).toBe(-1.5);
    zeroed.close();
  });
});

describe.each([
  // Q8_0 / Q4_0 run on the engine's integer kernels (the reference rounds activations as they do): ~2e-7 measured.
  // Q4_1 / Q5_0 / Q5_1 are widened to F16 at load (the CPU kernels lack them): ~5e-4 measured.
  ['F16', WhisperType.F16, 1e-4],
  ['Q8_0', WhisperType.Q8_0, 1e-4],
  ['Q4_0', WhisperType.Q4_0, 1e-4],
  ['Q4_1', WhisperType.Q4_1, 1e-2],
  ['Q5_0', WhisperType.Q5_0, 1e-2],
  ['Q5_1', WhisperType.Q5_1, 1e-2],
])('%s model', (name, type, tolerance) => {
  let tiny: TinyWhisperModel;
  let model: EngineWhisper;
  beforeAll(async () => ({ tiny, model } = await tinyModel(`${name}.bin`, type, { nAudioLayer: 1, nTextLayer: 1 })));
  afterAll(() => model.close());

  it(`gives the reference logits within ${tolerance}`, () => {
    const tokens = [...startSequence(model), 400, 1200, 77];
    expect(worstLogitError(model, tiny, testAudio(0.5), tokens)).toBeLessThan(tolerance);
  });
});

describe('model files', () => {
  it('loads an English-only model with the English-only special token layout', async () => {
    const { model } = await tinyModel('en.bin', WhisperType.F32, { nVocab: 51864, nAudioLayer: 1, nTextLayer: 1 });
    expect(model.info().multilingual).toBe(false);
    expect(model.info().specialTokens).toMatchObject({
      eot: 50256,
      sot: 50257,
      noTimestamps: 50362,
      timestampBegin: 50363,
    });
    const result = await model.transcribe(testAudio(0.3), { temperature: 0, maxTokens: 3, audioCtx: 16 });
    expect(result.language).toBe('en');
    model.close();
  });

  it('refuses a file with an unsupported tensor type, naming the tensor and the type', async () => {
    const tiny = writeTinyWhisperModel(join(dir, 'bad-type.bin'), { nAudioLayer: 1, nTextLayer: 1 });
    const bytes = readFileSync(tiny.path);
    // The first tensor header follows the vocabulary: patch its type field (third int32) to 13 (Q5_K).
    const at = bytes.indexOf(Buffer.from('encoder.conv1.weight')) - 4 * 3 - 4 * 3;
    expect(bytes.readInt32LE(at)).toBe(3); // n_dims of conv1.weight
    bytes.writeInt32LE(13, at + 8);
    writeFileSync(tiny.path, bytes);
    await expect(EngineWhisper.load(tiny.path)).rejects.toThrow(
      "tensor 'encoder.conv1.weight' has unsupported type id 13",
    );
  });

  it('refuses a file that lacks a tensor, naming it', async () => {
    const tiny = writeTinyWhisperModel(join(dir, 'short.bin'), { nAudioLayer: 1, nTextLayer: 1 });
    const bytes = readFileSync(tiny.path);
    const at = bytes.indexOf(Buffer.from('decoder.ln.weight')) - 4 * 4;
    writeFileSync(tiny.path, bytes.subarray(0, at));
    await expect(EngineWhisper.load(tiny.path)).rejects.toThrow("tensor 'decoder.ln.weight' is missing");
  });

  it('refuses a file that is not a whisper model', async () => {
    const path = join(dir, 'not-a-model.bin');
    writeFileSync(path, Buffer.from('RIFF and then some bytes'));
    await expect(EngineWhisper.load(path)).rejects.toThrow('bad magic');
  });
});
