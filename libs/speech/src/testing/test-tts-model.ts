// A tiny model with the Kokoro ONNX signature (tokens int64 [1, n], style float32 [1, 256], speed float32 [1] →
// waveform float32), built from real ONNX ops (Gather, MatMul, Add, Tanh, Mul, Reshape) so that every output
// sample depends on the tokens, the style row and the speed; plus its model folder (config.json, voice packs)
// and a float64 reference of the same computation for tests to compare against.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { encodeOnnxModel, ONNX_FLOAT, ONNX_INT64 } from './onnx-model.writer';

export const TEST_TTS_STYLE_DIM = 256;
/** Style rows per voice pack, as in Kokoro's packs (one per token count 0..509). */
export const TEST_TTS_VOICE_ROWS = 510;

/** Symbols of the test vocabulary: pad, punctuation, space, letters and the IPA espeak-ng emits for English. */
const SYMBOLS = [
  '$',
  ...';:,.!?—…"() ',
  ...'abcdefhijklmnopqrstuvwxyz',
  ...'ɑɐɒæβɔɕçɖðʤəɚɛɜɟɡɥɨɪʝɯɰŋɳɲɴøɸθœɹɾɻʁɽʂʃʈʧʊʋʌɣɤχʎʒʔˈˌːʰʲᵻ',
];

export interface TestTtsModelOptions {
  /** Name of the token input: `input_ids` (onnx-community export) or `tokens` (kokoro-onnx). */
  tokensInput?: 'input_ids' | 'tokens';
  /** Output samples per token (default 600: 25 ms at 24 kHz). */
  samplesPerToken?: number;
  hidden?: number;
  sampleRate?: number;
  /** Including the two pad tokens (default 512, as Kokoro). */
  maxTokens?: number;
  /** Voice names; the first is written as .npy, the others as .bin (default ['af_test', 'am_test']). */
  voices?: string[];
}

export interface TestTtsModel {
  dir: string;
  vocab: Record<string, number>;
  samplesPerToken: number;
  sampleRate: number;
  maxTokens: number;
  /** The style row of `voice` for a count of tokens (pads excluded). */
  styleRow(voice: string, tokenCount: number): Float32Array;
  /** What the model computes, in float64, for ids (pads included). */
  reference(ids: readonly number[], style: Float32Array, speed: number): Float32Array;
}

/** Deterministic weights in [-scale, scale). */
function weights(count: number, seed: number, scale: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return ((state / 2 ** 32) * 2 - 1) * scale;
  });
}

function voiceSeed(voice: string): number {
  return [...voice].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
}

/** Writes `<dir>/model.onnx`, `config.json` and `voices/` for a test model; returns its reference. */
export function writeTestTtsModel(dir: string, options: TestTtsModelOptions = {}): TestTtsModel {
  const tokensInput = options.tokensInput ?? 'input_ids';
  const samplesPerToken = options.samplesPerToken ?? 600;
  const hidden = options.hidden ?? 16;
  const sampleRate = options.sampleRate ?? 24_000;
  const maxTokens = options.maxTokens ?? 512;
  const voices = options.voices ?? ['af_test', 'am_test'];
  const vocab = Object.fromEntries(SYMBOLS.map((s, i) => [s, i]));
  const vocabSize = SYMBOLS.length;

  const embedding = weights(vocabSize * hidden, 11, 1);
  const styleProjection = weights(TEST_TTS_STYLE_DIM * hidden, 23, 0.1);
  const output = weights(hidden * samplesPerToken, 37, 0.5);
  const model = encodeOnnxModel({
    name: 'sovren-test-tts',
    inputs: [
      { name: tokensInput, elemType: ONNX_INT64, shape: [1, 'tokens'] },
      { name: 'style', elemType: ONNX_FLOAT, shape: [1, TEST_TTS_STYLE_DIM] },
      { name: 'speed', elemType: ONNX_FLOAT, shape: [1] },
    ],
    outputs: [{ name: 'waveform', elemType: ONNX_FLOAT, shape: ['samples'] }],
    initializers: [
      { name: 'embedding', dims: [vocabSize, hidden], dataType: ONNX_FLOAT, values: embedding },
      { name: 'style_projection', dims: [TEST_TTS_STYLE_DIM, hidden], dataType: ONNX_FLOAT, values: styleProjection },
      { name: 'output_projection', dims: [hidden, samplesPerToken], dataType: ONNX_FLOAT, values: output },
      { name: 'half', dims: [1], dataType: ONNX_FLOAT, values: [0.5] },
      { name: 'flat', dims: [1], dataType: ONNX_INT64, values: [-1] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['embedding', tokensInput], outputs: ['embedded'], attributes: { axis: 0 } },
      { op: 'MatMul', inputs: ['style', 'style_projection'], outputs: ['style_hidden'] },
      { op: 'Add', inputs: ['embedded', 'style_hidden'], outputs: ['mixed'] },
      { op: 'Tanh', inputs: ['mixed'], outputs: ['activated'] },
      { op: 'Mul', inputs: ['activated', 'speed'], outputs: ['paced'] },
      { op: 'MatMul', inputs: ['paced', 'output_projection'], outputs: ['frames'] },
      { op: 'Tanh', inputs: ['frames'], outputs: ['bounded'] },
      { op: 'Mul', inputs: ['bounded', 'half'], outputs: ['scaled'] },
      { op: 'Reshape', inputs: ['scaled', 'flat'], outputs: ['waveform'] },
    ],
  });
  mkdirSync(join(dir, 'voices'), { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), model);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        sample_rate: sampleRate,
        max_tokens: maxTokens,
        style_dim: TEST_TTS_STYLE_DIM,
        espeak_voice: 'en-us',
        pad_id: 0,
        inputs: { tokens: tokensInput, style: 'style', speed: 'speed' },
        output: 'waveform',
        phoneme_replacements: [['r', 'ɹ']],
        vocab,
      },
      null,
      2,
    ),
  );

  const styleRow = (voice: string, tokenCount: number): Float32Array => {
    const seed = voiceSeed(voice);
    return Float32Array.from(
      { length: TEST_TTS_STYLE_DIM },
      (_, j) => 0.5 * Math.sin(tokenCount * 0.37 + j * 0.11 + (seed % 1000)),
    );
  };
  voices.forEach((voice, index) => {
    const pack = new Float32Array(TEST_TTS_VOICE_ROWS * TEST_TTS_STYLE_DIM);
    for (let row = 0; row < TEST_TTS_VOICE_ROWS; row++) pack.set(styleRow(voice, row), row * TEST_TTS_STYLE_DIM);
    if (index === 0)
      writeFileSync(join(dir, 'voices', `${voice}.npy`), npy(pack, [TEST_TTS_VOICE_ROWS, 1, TEST_TTS_STYLE_DIM]));
    else writeFileSync(join(dir, 'voices', `${voice}.bin`), Buffer.from(pack.buffer));
  });

  const reference = (ids: readonly number[], style: Float32Array, speed: number): Float32Array => {
    const out = new Float32Array(ids.length * samplesPerToken);
    const styleHidden = Array.from({ length: hidden }, (_, h) => {
      let sum = 0;
      for (let j = 0; j < TEST_TTS_STYLE_DIM; j++) sum += style[j] * styleProjection[j * hidden + h];
      return sum;
    });
    ids.forEach((id, t) => {
      const paced = Array.from(
        { length: hidden },
        (_, h) => Math.tanh(embedding[id * hidden + h] + styleHidden[h]) * speed,
      );
      for (let k = 0; k < samplesPerToken; k++) {
        let sum = 0;
        for (let h = 0; h < hidden; h++) sum += paced[h] * output[h * samplesPerToken + k];
        out[t * samplesPerToken + k] = 0.5 * Math.tanh(sum);
      }
    });
    return out;
  };
  return { dir, vocab, samplesPerToken, sampleRate, maxTokens, styleRow, reference };
}

/** A little-endian float32 .npy file (format 1.0), as numpy.save writes it. */
export function npy(values: Float32Array, shape: number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    prefix,
    Buffer.from(header, 'latin1'),
    Buffer.from(values.buffer, values.byteOffset, values.byteLength),
  ]);
}
