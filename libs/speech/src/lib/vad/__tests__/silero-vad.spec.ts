/**
 * @jest-environment ./onnx-jest.environment.js
 */
import { readWav, resample } from '@sovren/audio';
import { execFileSync } from 'node:child_process';

import { Endpointer, EndpointerEvent } from '../../endpointer/endpointer';
import { SileroVad, VAD_FRAME_MS, VAD_FRAME_SAMPLES, VAD_SAMPLE_RATE } from '../silero-vad';

/** Real speech from espeak-ng at 16 kHz, trimmed to where the waveform starts and stops moving. */
async function spoken(text: string): Promise<Float32Array> {
  const wav = readWav(execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '--stdout', text]));
  const audio = await resample(wav.samples, wav.sampleRate, VAD_SAMPLE_RATE);
  const loud = (s: number) => Math.abs(s) > 0.01;
  const first = audio.findIndex(loud);
  let last = audio.length - 1;
  while (last > first && !loud(audio[last])) last--;
  return audio.slice(first, last + 1);
}

function silence(seconds: number): Float32Array {
  return new Float32Array(Math.round(seconds * VAD_SAMPLE_RATE));
}

function join(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function endpoint(vad: SileroVad, audio: Float32Array): Promise<EndpointerEvent[]> {
  const stream = vad.stream();
  const endpointer = new Endpointer(VAD_FRAME_MS, {
    threshold: 0.5,
    startMs: 64,
    endMs: 600,
    minSpeechMs: 200,
    preRollMs: 0,
  });
  const events: EndpointerEvent[] = [];
  // 20 ms pieces, as RTP delivers them: the stream assembles 512-sample frames itself.
  for (let i = 0; i < audio.length; i += 320) {
    for (const p of await stream.push(audio.subarray(i, i + 320))) events.push(...endpointer.push(p));
  }
  for (let i = 0; i < 40; i++) events.push(...endpointer.push(0));
  return events;
}

describe('Silero VAD with the endpointer', () => {
  let vad: SileroVad;
  beforeAll(async () => {
    vad = await SileroVad.load();
  });
  afterAll(async () => {
    await vad.close();
  });

  it('finds where real speech starts and ends within 100 ms, for two utterances with silences between', async () => {
    const first = await spoken('Hello, I would like to book a table for two people tonight.');
    const second = await spoken('Yes, at eight o clock please.');
    const ms = (samples: number) => (samples * 1000) / VAD_SAMPLE_RATE;
    const lead = silence(1.2);
    const gap = silence(1.5);
    const audio = join([lead, first, gap, second, silence(1.0)]);
    const truth = [
      { start: ms(lead.length), end: ms(lead.length + first.length) },
      {
        start: ms(lead.length + first.length + gap.length),
        end: ms(lead.length + first.length + gap.length + second.length),
      },
    ];

    const events = await endpoint(vad, audio);
    const starts = events.filter((e) => e.type === 'speech-start');
    const ends = events.filter((e) => e.type === 'turn-end');
    expect(starts).toHaveLength(2);
    expect(ends).toHaveLength(2);
    truth.forEach((t, i) => {
      expect(Math.abs(starts[i].speechStartMs - t.start)).toBeLessThanOrEqual(100);
      const end = ends[i];
      if (end.type !== 'turn-end') throw new Error('unreachable');
      expect(Math.abs(end.speechEndMs - t.end)).toBeLessThanOrEqual(100);
    });
  });

  it('hears no speech in silence or in white noise', async () => {
    let seed = 12345;
    const noise = Float32Array.from({ length: 3 * VAD_SAMPLE_RATE }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return ((seed / 2 ** 32) * 2 - 1) * 0.3;
    });
    expect(await endpoint(vad, silence(3))).toEqual([]);
    expect(await endpoint(vad, noise)).toEqual([]);
  });

  it('carries the recurrent state across frames: the same frame after speech and after silence scores differently', async () => {
    const speech = await spoken('Good morning everyone, thanks for calling.');
    const frame = (i: number) => speech.subarray(i * VAD_FRAME_SAMPLES, (i + 1) * VAD_FRAME_SAMPLES);
    const afterSpeech = vad.stream();
    const afterSilence = vad.stream();
    for (let i = 0; i < 8; i++) {
      await afterSpeech.frame(frame(i));
      await afterSilence.frame(new Float32Array(VAD_FRAME_SAMPLES));
    }
    // The same last frame before the query, so both streams hand the model the same 64 samples of context.
    await afterSpeech.frame(frame(8));
    await afterSilence.frame(frame(8));
    const a = await afterSpeech.frame(frame(9));
    const b = await afterSilence.frame(frame(9));
    expect(Math.abs(a - b)).toBeGreaterThan(1e-3);
  });

  it('keeps each stream’s state apart and refuses frames of the wrong size', async () => {
    const speech = await spoken('Good morning everyone.');
    const a = vad.stream();
    const b = vad.stream();
    const frame = speech.subarray(VAD_FRAME_SAMPLES * 4, VAD_FRAME_SAMPLES * 5);
    await a.frame(speech.subarray(VAD_FRAME_SAMPLES * 3, VAD_FRAME_SAMPLES * 4));
    const fresh = await b.frame(frame);
    const fresh2 = await vad.stream().frame(frame);
    expect(fresh).toBeCloseTo(fresh2, 6);
    await expect(a.frame(new Float32Array(100))).rejects.toThrow(/512 samples/);
  });
});
