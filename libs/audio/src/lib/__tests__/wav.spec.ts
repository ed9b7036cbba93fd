import { aLawEncode, muLawEncode } from '../g711';
import { readWav, WavError, WavErrorCode, wavHeader, writeWav } from '../wav';

/** Builds a RIFF file from raw chunks, so tests can write exactly the malformed header they need. */
function riff(chunks: Array<[string, Buffer] | [string, Buffer, number]>): Buffer {
  const parts = chunks.map(([id, body, declared]) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(declared ?? body.length, 4);
    return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
  });
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(4 + parts.reduce((n, p) => n + p.length, 0), 4);
  header.write('WAVE', 8, 'latin1');
  return Buffer.concat([header, ...parts]);
}

function fmt(tag: number, channels: number, rate: number, bits: number, blockAlign = (channels * bits) / 8): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE(rate * blockAlign, 8);
  b.writeUInt16LE(blockAlign, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

function expectWavError(bytes: Buffer, code: WavErrorCode, message: RegExp): void {
  let caught: unknown;
  try {
    readWav(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WavError);
  expect((caught as WavError).code).toBe(code);
  expect((caught as WavError).message).toMatch(message);
}

describe('writeWav / readWav', () => {
  it('round-trips 16-bit mono and stereo PCM sample for sample', () => {
    const mono = Int16Array.from([0, 1000, -1000, 32767, -32768]);
    const read = readWav(writeWav(mono, 16_000));
    expect(read).toMatchObject({ sampleRate: 16_000, channels: 1, encoding: 'pcm', bitsPerSample: 16, frames: 5 });
    expect(Array.from(read.samples).map((s) => Math.round(s * 32768))).toEqual(Array.from(mono));

    const stereo = readWav(writeWav(Float32Array.from([0.5, -0.5, 0.25, -0.25]), 8_000, 2));
    expect(stereo).toMatchObject({ channels: 2, frames: 2 });
    expect(Array.from(stereo.samples)).toEqual([0.5, -0.5, 0.25, -0.25]);
  });

  it('writes the canonical 44-byte header that sox and ffmpeg expect', () => {
    const file = writeWav(new Int16Array(3), 24_000);
    expect(file.length).toBe(50);
    expect(file.toString('latin1', 0, 4)).toBe('RIFF');
    expect(file.readUInt32LE(4)).toBe(42);
    expect(file.readUInt32LE(24)).toBe(24_000);
    expect(file.readUInt32LE(28)).toBe(48_000);
    expect(file.readUInt32LE(40)).toBe(6);
  });

  it('reads a streamed WAV whose sizes are 0xFFFFFFFF to the end of the file', () => {
    const body = Buffer.alloc(8);
    body.writeInt16LE(16384, 2);
    const read = readWav(Buffer.concat([wavHeader(16_000, 1), body]));
    expect(read.frames).toBe(4);
    expect(read.samples[1]).toBe(0.5);
  });

  it('reads the placeholder size espeak-ng and sox write to a pipe (0x7FFFF000) to the end of the file', () => {
    const body = Buffer.alloc(4);
    body.writeInt16LE(-16384, 0);
    const header = wavHeader(22_050, 1, 0);
    header.writeUInt32LE(0x7ffff024, 4);
    header.writeUInt32LE(0x7ffff000, 40);
    const read = readWav(Buffer.concat([header, body]));
    expect(read).toMatchObject({ sampleRate: 22_050, frames: 2 });
    expect(read.samples[0]).toBe(-0.5);
  });

  it('reads float32, 8-bit, 24-bit, mu-law and A-law uploads', () => {
    const floats = Buffer.alloc(8);
    floats.writeFloatLE(0.75, 0);
    floats.writeFloatLE(-0.125, 4);
    expect(
      Array.from(
        readWav(
          riff([
            ['fmt ', fmt(3, 1, 48_000, 32)],
            ['data', floats],
          ]),
        ).samples,
      ),
    ).toEqual([0.75, -0.125]);

    expect(
      Array.from(
        readWav(
          riff([
            ['fmt ', fmt(1, 1, 8_000, 8)],
            ['data', Buffer.from([128, 192, 0])],
          ]),
        ).samples,
      ),
    ).toEqual([0, 0.5, -1]);

    const s24 = Buffer.from([0x00, 0x00, 0x40, 0x00, 0x00, 0xc0]);
    expect(
      Array.from(
        readWav(
          riff([
            ['fmt ', fmt(1, 1, 44_100, 24)],
            ['data', s24],
          ]),
        ).samples,
      ),
    ).toEqual([0.5, -0.5]);

    const linear = Int16Array.from([0, 8000, -8000]);
    const mu = readWav(
      riff([
        ['fmt ', fmt(7, 1, 8_000, 8)],
        ['data', Buffer.from(muLawEncode(linear))],
      ]),
    );
    expect(mu.encoding).toBe('mulaw');
    const al = readWav(
      riff([
        ['fmt ', fmt(6, 1, 8_000, 8)],
        ['data', Buffer.from(aLawEncode(linear))],
      ]),
    );
    expect(al.encoding).toBe('alaw');
    for (const read of [mu, al]) {
      read.samples.forEach((s, i) => expect(Math.abs(s * 32768 - linear[i])).toBeLessThan(300));
    }
  });

  it('reads WAVE_FORMAT_EXTENSIBLE by its sub-format and skips unknown chunks (odd sizes padded)', () => {
    const ext = Buffer.alloc(40);
    fmt(0xfffe, 1, 16_000, 16).copy(ext);
    ext.writeUInt16LE(22, 16);
    ext.writeUInt16LE(1, 24);
    const data = Buffer.alloc(2);
    data.writeInt16LE(-16384);
    const read = readWav(
      riff([
        ['LIST', Buffer.from('odd')],
        ['fmt ', ext],
        ['data', data],
      ]),
    );
    expect(read).toMatchObject({ sampleRate: 16_000, encoding: 'pcm', frames: 1 });
    expect(read.samples[0]).toBe(-0.5);
  });
});

describe('readWav refuses malformed files with a clear error', () => {
  const data = Buffer.alloc(4);
  it.each([
    ['an empty buffer', Buffer.alloc(0), WavErrorCode.Truncated, /too short/],
    ['a non-RIFF file', Buffer.from('ID3\u0004 not a wav file at all'), WavErrorCode.NotRiff, /RIFF/],
    ['no fmt chunk', riff([['LIST', Buffer.alloc(4)]]), WavErrorCode.MissingFormat, /no fmt/],
    [
      'data before fmt',
      riff([
        ['data', data],
        ['fmt ', fmt(1, 1, 8000, 16)],
      ]),
      WavErrorCode.MissingFormat,
      /before/,
    ],
    ['no data chunk', riff([['fmt ', fmt(1, 1, 8000, 16)]]), WavErrorCode.MissingData, /no data/],
    [
      'a short fmt chunk',
      riff([
        ['fmt ', Buffer.alloc(8)],
        ['data', data],
      ]),
      WavErrorCode.InvalidFormat,
      /shorter than 16/,
    ],
    [
      'a fmt size past the end',
      riff([['fmt ', fmt(1, 1, 8000, 16), 4000]]),
      WavErrorCode.Truncated,
      /fmt chunk declares 4000 bytes/,
    ],
    [
      'a data size past the end',
      riff([
        ['fmt ', fmt(1, 1, 8000, 16)],
        ['data', data, 1000],
      ]),
      WavErrorCode.Truncated,
      /data chunk declares 1000/,
    ],
    [
      'an unknown chunk past the end',
      riff([['junk', data, 0x7fffffff]]),
      WavErrorCode.Truncated,
      /"junk" chunk declares/,
    ],
    [
      'zero channels',
      riff([
        ['fmt ', fmt(1, 0, 8000, 16, 2)],
        ['data', data],
      ]),
      WavErrorCode.InvalidFormat,
      /0 channels/,
    ],
    [
      'a zero sample rate',
      riff([
        ['fmt ', fmt(1, 1, 0, 16)],
        ['data', data],
      ]),
      WavErrorCode.InvalidFormat,
      /sample rate 0/,
    ],
    [
      'a wrong block align',
      riff([
        ['fmt ', fmt(1, 2, 8000, 16, 2)],
        ['data', data],
      ]),
      WavErrorCode.InvalidFormat,
      /block align/,
    ],
    [
      'MP3 inside WAV',
      riff([
        ['fmt ', fmt(0x55, 1, 8000, 0, 1)],
        ['data', data],
      ]),
      WavErrorCode.UnsupportedFormat,
      /0x55/,
    ],
    [
      '12-bit PCM',
      riff([
        ['fmt ', fmt(1, 1, 8000, 12, 2)],
        ['data', data],
      ]),
      WavErrorCode.UnsupportedFormat,
      /12 bits/,
    ],
    [
      'a partial last frame',
      riff([
        ['fmt ', fmt(1, 2, 8000, 16)],
        ['data', Buffer.alloc(6)],
      ]),
      WavErrorCode.InvalidFormat,
      /whole number of 4-byte frames/,
    ],
  ])('%s', (_name, bytes, code, message) => expectWavError(bytes, code, message));

  it('never throws anything but WavError on random corruption of a valid file', () => {
    const valid = writeWav(
      Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)),
      16_000,
    );
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < 2000; round++) {
      const copy = Buffer.from(valid.subarray(0, 8 + Math.floor(random() * (valid.length - 8))));
      for (let k = 0; k < 3; k++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      try {
        readWav(copy);
      } catch (error) {
        expect(error).toBeInstanceOf(WavError);
      }
    }
  });
});
