import { resample, Resampler } from '../resampler';

function sine(frequency: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  return Float32Array.from(
    { length: Math.round(rate * seconds) },
    (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / rate),
  );
}

/** Least-squares fit of a sine at `frequency`: its amplitude and the RMS of whatever else is in the signal. */
function fitSine(samples: Float32Array, frequency: number, rate: number): { amplitude: number; residual: number } {
  let ss = 0;
  let sc = 0;
  for (let i = 0; i < samples.length; i++) {
    const phase = (2 * Math.PI * frequency * i) / rate;
    ss += samples[i] * Math.sin(phase);
    sc += samples[i] * Math.cos(phase);
  }
  const a = (2 * ss) / samples.length;
  const b = (2 * sc) / samples.length;
  let residual = 0;
  for (let i = 0; i < samples.length; i++) {
    const phase = (2 * Math.PI * frequency * i) / rate;
    const r = samples[i] - a * Math.sin(phase) - b * Math.cos(phase);
    residual += r * r;
  }
  return { amplitude: Math.hypot(a, b), residual: Math.sqrt(residual / samples.length) };
}

/** Feeds a clip in 20 ms chunks, as a call does, then flushes. */
async function streamed(input: Float32Array, fromRate: number, toRate: number): Promise<Float32Array> {
  const resampler = await Resampler.create({ fromRate, toRate });
  const parts: number[] = [];
  const chunk = fromRate / 50;
  for (let i = 0; i < input.length; i += chunk) parts.push(...resampler.process(input.subarray(i, i + chunk)));
  parts.push(...resampler.flush());
  return Float32Array.from(parts);
}

describe('Resampler', () => {
  it.each([
    [8_000, 16_000, 440],
    [16_000, 8_000, 1_000],
    [24_000, 16_000, 3_000],
    [16_000, 24_000, 440],
    [24_000, 8_000, 1_500],
  ])('keeps a sine’s frequency and amplitude from %i Hz to %i Hz (streamed in 20 ms chunks)', async (from, to, f) => {
    const out = await streamed(sine(f, from, 0.5), from, to);
    expect(out.length).toBe(to / 2);
    // Away from the clip's edges (where the filter sees the start/end of the signal) it is a pure sine at f.
    const middle = out.subarray(to / 20, out.length - to / 20);
    const fit = fitSine(middle, f, to);
    expect(fit.amplitude).toBeGreaterThan(0.49);
    expect(fit.amplitude).toBeLessThan(0.51);
    expect(fit.residual).toBeLessThan(0.005);
  });

  it('removes content above the new Nyquist instead of folding it back (6 kHz at 16 kHz to 8 kHz)', async () => {
    const out = await streamed(sine(6_000, 16_000, 0.5), 16_000, 8_000);
    const middle = out.subarray(400, out.length - 400);
    // Folded, the tone would appear at 2 kHz with its full amplitude.
    expect(fitSine(middle, 2_000, 8_000).amplitude).toBeLessThan(0.005);
    expect(Math.sqrt(middle.reduce((n, s) => n + s * s, 0) / middle.length)).toBeLessThan(0.005);
  });

  it('gives the same samples whatever the chunking, and an exact length after flush', async () => {
    const input = sine(700, 8_000, 0.3);
    const whole = await resample(input, 8_000, 16_000);
    const chunked = await streamed(input, 8_000, 16_000);
    expect(whole.length).toBe(4_800);
    expect(chunked.length).toBe(4_800);
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i] - chunked[i]));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('withholds only the filter look-ahead (under 8 ms with the default quality) and keeps calls apart', async () => {
    const a = await Resampler.create({ fromRate: 8_000, toRate: 16_000 });
    const b = await Resampler.create({ fromRate: 8_000, toRate: 16_000 });
    const first = a.process(sine(440, 8_000, 0.02));
    expect(first.length + a.pendingFrames).toBe(320);
    expect(a.pendingFrames / 16).toBeLessThan(8);
    // b has seen nothing: a's state must not leak into it.
    expect(b.pendingFrames).toBe(0);
    expect(b.process(new Float32Array(160)).every((s) => s === 0)).toBe(true);
    a.close();
    b.close();
    expect(() => a.process(new Float32Array(1))).toThrow(/closed/);
  });

  it('passes audio through untouched at equal rates and refuses bad rates and odd frames', async () => {
    const same = await Resampler.create({ fromRate: 16_000, toRate: 16_000 });
    expect(Array.from(same.process(Float32Array.from([0.1, 0.2])))).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    await expect(Resampler.create({ fromRate: 0, toRate: 16_000 })).rejects.toThrow(/fromRate/);
    await expect(Resampler.create({ fromRate: 8_000, toRate: 8_000.5 })).rejects.toThrow(/toRate/);
    const stereo = await Resampler.create({ fromRate: 8_000, toRate: 16_000, channels: 2 });
    expect(() => stereo.process(new Float32Array(3))).toThrow(/2-channel frames/);
    stereo.close();
  });
});
