/**
 * @jest-environment ./onnx-jest.environment.js
 */
// Loading a speech model folder: input names and sizes from config.json and the model, voice packs checked.
import { npy, writeTestTtsModel } from '../../../testing';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TtsModel, TtsModelError } from '../tts-model';
import { readVoicePack, styleRow, VoicePackError } from '../voice-pack.reader';

const CPU = { providers: ['cpu'], intraOpThreads: 1 };

describe('TtsModel', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sovren-tts-model-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the model with pads and the style row of the token count, for every voice', async () => {
    const reference = writeTestTtsModel(dir, { samplesPerToken: 8 });
    const model = await TtsModel.load('m', dir, CPU);
    expect(model.voices).toEqual(['af_test', 'am_test']);
    expect(model.maxContentTokens).toBe(510);
    const ids = [10, 20, 30];
    for (const voice of model.voices) {
      const audio = await model.synthesize(ids, voice, 0.8);
      const expected = reference.reference([0, ...ids, 0], reference.styleRow(voice, 3), 0.8);
      expect(audio.length).toBe(expected.length);
      audio.forEach((s, i) => expect(Math.abs(s - expected[i])).toBeLessThan(1e-5));
    }
    await expect(model.synthesize([], 'af_test', 1)).rejects.toThrow(RangeError);
    await expect(model.synthesize(new Array(511).fill(1), 'af_test', 1)).rejects.toThrow(RangeError);
    await model.close();
  });

  it.each([
    [
      'an input the model lacks',
      (c: Record<string, unknown>) => ({ ...c, inputs: { tokens: 'ids' } }),
      /no input "ids"/,
    ],
    ['an output the model lacks', (c: Record<string, unknown>) => ({ ...c, output: 'audio' }), /no output "audio"/],
    ['no vocabulary', (c: Record<string, unknown>) => ({ ...c, vocab: {} }), /vocab/],
    ['a fractional sample rate', (c: Record<string, unknown>) => ({ ...c, sample_rate: 24000.5 }), /sample_rate/],
    ['a bad espeak voice', (c: Record<string, unknown>) => ({ ...c, espeak_voice: 'en us' }), /espeak_voice/],
  ])('refuses config.json with %s', async (_name, change, message) => {
    writeTestTtsModel(dir, { samplesPerToken: 8 });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(change(config)));
    const error = await TtsModel.load('m', dir, CPU).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TtsModelError);
    expect((error as TtsModelError).code).toBe('model_invalid');
    expect((error as TtsModelError).message).toMatch(message);
  });

  it('refuses a folder whose voice pack is malformed, naming the file', async () => {
    writeTestTtsModel(dir, { samplesPerToken: 8 });
    writeFileSync(join(dir, 'voices', 'am_test.bin'), Buffer.alloc(1000));
    await expect(TtsModel.load('m', dir, CPU)).rejects.toThrow(/voices\/am_test.bin/);
  });
});

describe('readVoicePack', () => {
  const rows = Float32Array.from({ length: 3 * 4 }, (_, i) => i);

  it('reads raw float32 and .npy, and picks the row of the token count (clamped to the last)', () => {
    const bin = readVoicePack(Buffer.from(rows.buffer), 'bin', 4);
    const fromNpy = readVoicePack(npy(rows, [3, 1, 4]), 'npy', 4);
    expect(fromNpy).toEqual(bin);
    expect(Array.from(styleRow(bin, 1))).toEqual([4, 5, 6, 7]);
    expect(Array.from(styleRow(bin, 99))).toEqual([8, 9, 10, 11]);
  });

  it.each([
    ['a size that is not whole rows', Buffer.alloc(20), 'bin', /whole number/],
    ['an empty file', Buffer.alloc(0), 'bin', /whole number/],
    ['a non-finite value', Buffer.from(Float32Array.from([0, NaN, 0, 0]).buffer), 'bin', /finite/],
    ['a file that is not .npy', Buffer.from('hello world, not numpy'), 'npy', /not a .npy/],
    ['float64 .npy', Buffer.from(npy(rows, [3, 4]).toString('latin1').replace('<f4', '<f8'), 'latin1'), 'npy', /<f4/],
    ['a shape that does not end in the style size', npy(rows, [4, 3]), 'npy', /style size 4/],
    ['a shape bigger than the data', npy(rows.subarray(0, 8), [3, 4]), 'npy', /needs 48 bytes/],
  ])('refuses %s', (_name, bytes, format, message) => {
    expect(() => readVoicePack(bytes as Buffer, format as 'bin' | 'npy', 4)).toThrow(VoicePackError);
    expect(() => readVoicePack(bytes as Buffer, format as 'bin' | 'npy', 4)).toThrow(message as RegExp);
  });
});
