// @sovren/audio: PCM conversions, G.711 companding, WAV read/write and a streaming resampler shared by the
// inference (speech), voice and telephony code.
export * from './lib/pcm';
export * from './lib/g711';
export * from './lib/wav';
export * from './lib/resampler';
