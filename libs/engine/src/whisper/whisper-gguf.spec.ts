// Whisper models stored as GGUF (general.architecture "whisper", docs/whisper.md): the same weights give the same
// front end, logits and transcripts as in whisper.cpp's ggml layout, and a malformed GGUF is refused naming the
// problem.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { WhisperType, writeTinyWhisperModel } from '../testing/whisper-model-writer';
import { EngineWhisper } from './whisper';

jest.setTimeout(300_000);

const SHAPE = { nAudioLayer: 1, nTextLayer: 1, nTextCtx: 64 };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-whisper-gguf-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function testAudio(seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < out.length; i++) {
    out[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 0.2 * Math.sin((2 * Math.PI * 1500 * i) / 16000);
  }
  return out;
}

describe.each([
  ['F32', WhisperType.F32],
  ['F16', WhisperType.F16],
  ['Q8_0', WhisperType.Q8_0],
  ['Q4_0', WhisperType.Q4_0],
])('%s weights in GGUF and in the ggml layout', (name, type) => {
  let ggml: EngineWhisper;
  let gguf: EngineWhisper;
  beforeAll(async () => {
    const bin = writeTinyWhisperModel(join(dir, `ggml-${name}.bin`), { type, ...SHAPE });
    const asGguf = writeTinyWhisperModel(join(dir, `${name}.gguf`), { type, ...SHAPE, format: 'gguf' });
    expect(readFileSync(asGguf.path).subarray(0, 4).toString('latin1')).toBe('GGUF');
    ggml = await EngineWhisper.load(bin.path, { threads: 2 });
    gguf = await EngineWhisper.load(asGguf.path, { threads: 2 });
  });
  afterAll(() => {
    ggml?.close();
    gguf?.close();
  });

  it('reads the same hparams, special tokens and weight types', () => {
    const { fileBytes: _a, ...fromGgml } = ggml.info();
    const { fileBytes: _b, ...fromGguf } = gguf.info();
    expect(fromGguf).toEqual(fromGgml);
  });

  it('gives the same log-mel window, encoder output and logits, bit for bit', () => {
    const pcm = testAudio(0.5);
    expect(gguf.logMel(pcm, 32)).toEqual(ggml.logMel(pcm, 32));
    expect(gguf.encode(pcm, 32)).toEqual(ggml.encode(pcm, 32));
    const st = ggml.info().specialTokens;
    const tokens = [st.sot, st.firstLanguage, st.transcribe, st.noTimestamps, 400, 1200, 77];
    const logits = gguf.logits(pcm, tokens, 32);
    expect(logits.length).toBe(tokens.length * ggml.info().nVocab);
    expect(logits).toEqual(ggml.logits(pcm, tokens, 32));
  });

  it('transcribes to the same text and tokens, and byte-level BPE round-trips the same', async () => {
    const pcm = testAudio(0.6);
    const options = { language: 'en', temperature: 0, maxTokens: 8, audioCtx: 32 };
    const [a, b] = await Promise.all([ggml.transcribe(pcm, options), gguf.transcribe(pcm, options)]);
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
    expect(b.tokens).toEqual(a.tokens);
    expect(gguf.tokenize('hello world')).toEqual(ggml.tokenize('hello world'));
    expect(gguf.tokenBytes(a.tokens)).toEqual(ggml.tokenBytes(a.tokens));
  });
});

describe('malformed Whisper GGUF files', () => {
  let bytes: Buffer;
  beforeAll(() => {
    bytes = readFileSync(writeTinyWhisperModel(join(dir, 'base.gguf'), { ...SHAPE, format: 'gguf' }).path);
  });

  /** A copy of the valid file with `find` (its first occurrence) replaced by same-length `replace`. */
  async function loadPatched(find: string | Buffer, replace: Buffer | string, skip = 0): Promise<EngineWhisper> {
    const copy = Buffer.from(bytes);
    const needle = typeof find === 'string' ? Buffer.from(find, 'latin1') : find;
    const at = copy.indexOf(needle) + skip;
    expect(at).toBeGreaterThanOrEqual(skip);
    const patch = typeof replace === 'string' ? Buffer.from(replace, 'latin1') : replace;
    patch.copy(copy, at);
    const path = join(dir, `patched-${Math.random().toString(36).slice(2)}.gguf`);
    writeFileSync(path, copy);
    return EngineWhisper.load(path);
  }

  it('refuses another architecture, naming it', async () => {
    // general.architecture's value follows its key: u32 type, u64 length, then the text.
    await expect(loadPatched('general.architecture', 'llama!!', 'general.architecture'.length + 12)).rejects.toThrow(
      "general.architecture is 'llama!!', not 'whisper'",
    );
  });

  it('refuses a missing hparam, naming the key', async () => {
    await expect(loadPatched('whisper.n_mels', 'whisper.n_melz')).rejects.toThrow('whisper.n_mels');
  });

  it('refuses head counts that do not divide the state', async () => {
    const key = 'whisper.n_audio_head';
    const value = Buffer.alloc(4);
    value.writeUInt32LE(3);
    await expect(loadPatched(key, value, key.length + 4)).rejects.toThrow('not multiples of the head counts');
  });

  it('refuses a file without the mel filter bank', async () => {
    await expect(loadPatched('mel_filters', 'mel_filterz')).rejects.toThrow("GGUF tensor 'mel_filters' is missing");
  });

  it('refuses a token that is not byte-level text, naming it', async () => {
    // Token 0 is byte 0x00, written as U+0100 (C4 80); U+017F stands for no byte.
    const key = 'tokenizer.ggml.tokens';
    await expect(loadPatched(key, Buffer.from([0xc5, 0xbf]), key.length + 4 + 4 + 8 + 8)).rejects.toThrow(
      'token 0 of tokenizer.ggml.tokens is not GPT-2 byte-level text',
    );
  });

  it('refuses a tensor type Whisper does not use, naming the tensor and the type', async () => {
    // decoder.ln.weight (1-D F32): u64 name length, name, u32 n_dims, u64 dim, then u32 type -> BF16 (30).
    const name = 'decoder.ln.weight';
    const type = Buffer.alloc(4);
    type.writeUInt32LE(30);
    await expect(loadPatched(name, type, name.length + 4 + 8)).rejects.toThrow(
      "tensor 'decoder.ln.weight' has type BF16, which Whisper does not use",
    );
  });

  it('refuses a truncated file with the GGUF reader’s reason', async () => {
    const path = join(dir, 'truncated.gguf');
    writeFileSync(path, bytes.subarray(0, bytes.length - 1000));
    await expect(EngineWhisper.load(path)).rejects.toThrow(/whisper model: GGUF/);
  });

  it('cannot write quantisations the GGUF reader lacks (Q4_1, Q5_0, Q5_1 stay in the ggml layout)', () => {
    expect(() =>
      writeTinyWhisperModel(join(dir, 'q5.gguf'), { ...SHAPE, type: WhisperType.Q5_0, format: 'gguf' }),
    ).toThrow('GGUF Whisper models hold F32, F16, Q4_0 or Q8_0 tensors, not Q5_0');
  });
});
