import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TensorType } from '../quant/tensor-type';
import { GgufValueType, GgufWriter } from './gguf-writer';

/** Little-endian expected-bytes builder, independent of the writer's own encoder. */
class Expected {
  readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.bytes.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number): this {
    this.u32(v % 2 ** 32);
    return this.u32(Math.floor(v / 2 ** 32));
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    b.forEach((x) => this.u8(x));
    return this;
  }
  raw(values: ArrayLike<number>): this {
    for (let i = 0; i < values.length; i++) this.u8(values[i]);
    return this;
  }
  padTo(alignment: number): this {
    while (this.bytes.length % alignment !== 0) this.u8(0);
    return this;
  }
  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

/** Minimal decoder of the metadata section, to check each value type's encoding. */
function readMetadata(file: Buffer): Map<string, { type: number; value: unknown }> {
  let pos = 24;
  const kvCount = Number(file.readBigUInt64LE(16));
  const readString = (): string => {
    const len = Number(file.readBigUInt64LE(pos));
    const s = file.toString('utf8', pos + 8, pos + 8 + len);
    pos += 8 + len;
    return s;
  };
  const readValue = (type: number): unknown => {
    const at = pos;
    switch (type) {
      case GgufValueType.UINT8:
        pos += 1;
        return file.readUInt8(at);
      case GgufValueType.INT8:
        pos += 1;
        return file.readInt8(at);
      case GgufValueType.UINT16:
        pos += 2;
        return file.readUInt16LE(at);
      case GgufValueType.INT16:
        pos += 2;
        return file.readInt16LE(at);
      case GgufValueType.UINT32:
        pos += 4;
        return file.readUInt32LE(at);
      case GgufValueType.INT32:
        pos += 4;
        return file.readInt32LE(at);
      case GgufValueType.FLOAT32:
        pos += 4;
        return file.readFloatLE(at);
      case GgufValueType.BOOL:
        pos += 1;
        return file.readUInt8(at);
      case GgufValueType.STRING:
        return readString();
      case GgufValueType.UINT64:
        pos += 8;
        return file.readBigUInt64LE(at);
      case GgufValueType.INT64:
        pos += 8;
        return file.readBigInt64LE(at);
      case GgufValueType.FLOAT64:
        pos += 8;
        return file.readDoubleLE(at);
      case GgufValueType.ARRAY: {
        const elementType = file.readUInt32LE(pos);
        const count = Number(file.readBigUInt64LE(pos + 4));
        pos += 12;
        const values: unknown[] = [];
        for (let i = 0; i < count; i++) values.push(readValue(elementType));
        return { elementType, values };
      }
      default:
        throw new Error(`unexpected type ${type}`);
    }
  };
  const out = new Map<string, { type: number; value: unknown }>();
  for (let i = 0; i < kvCount; i++) {
    const key = readString();
    const type = file.readUInt32LE(pos);
    pos += 4;
    out.set(key, { type, value: readValue(type) });
  }
  return out;
}

describe('GgufWriter', () => {
  it('lays out header, metadata, tensor infos and aligned data byte by byte', () => {
    const data = Buffer.from(new Float32Array([1.5, -2]).buffer);
    const q8 = new Uint8Array(34).fill(7);
    const file = new GgufWriter()
      .addUint32('a', 7)
      .addString('name', 'tiny')
      .addTensor('t', [2], TensorType.F32, data)
      .addTensor('w', [32, 1], TensorType.Q8_0, q8)
      .toBuffer();
    const expected = new Expected()
      .raw([0x47, 0x47, 0x55, 0x46])
      .u32(3)
      .u64(2)
      .u64(2)
      .str('a')
      .u32(GgufValueType.UINT32)
      .u32(7)
      .str('name')
      .u32(GgufValueType.STRING)
      .str('tiny')
      .str('t')
      .u32(1)
      .u64(2)
      .u32(TensorType.F32)
      .u64(0)
      .str('w')
      .u32(2)
      .u64(32)
      .u64(1)
      .u32(TensorType.Q8_0)
      .u64(32)
      .padTo(32)
      .raw(data)
      .padTo(32)
      .raw(q8)
      .padTo(32)
      .buffer();
    expect(file.toString('hex')).toBe(expected.toString('hex'));
  });

  it('encodes every metadata value type', () => {
    const file = new GgufWriter()
      .addUint8('u8', 255)
      .addInt8('i8', -128)
      .addUint16('u16', 65535)
      .addInt16('i16', -32768)
      .addUint32('u32', 4294967295)
      .addInt32('i32', -2147483648)
      .addFloat32('f32', 0.1)
      .addBool('t', true)
      .addBool('f', false)
      .addString('s', 'héllo')
      .addUint64('u64', 2n ** 64n - 1n)
      .addInt64('i64', -(2n ** 63n))
      .addInt64('i64small', -5)
      .addFloat64('f64', 0.1)
      .addArray('strings', GgufValueType.STRING, ['a', '', 'ccc'])
      .addArray('ints', GgufValueType.INT32, [1, -2, 3])
      .addArray('floats', GgufValueType.FLOAT32, [0.5, -1])
      .addArray('empty', GgufValueType.UINT8, [])
      .addArray('nested', GgufValueType.ARRAY, [
        { elementType: GgufValueType.UINT16, values: [1, 2] },
        { elementType: GgufValueType.BOOL, values: [true] },
      ])
      .toBuffer();
    expect(file.readUInt32LE(4)).toBe(3);
    expect(file.readBigUInt64LE(8)).toBe(0n);
    const kv = readMetadata(file);
    expect([...kv.keys()]).toEqual([
      'u8',
      'i8',
      'u16',
      'i16',
      'u32',
      'i32',
      'f32',
      't',
      'f',
      's',
      'u64',
      'i64',
      'i64small',
      'f64',
      'strings',
      'ints',
      'floats',
      'empty',
      'nested',
    ]);
    expect(kv.get('u8')).toEqual({ type: GgufValueType.UINT8, value: 255 });
    expect(kv.get('i8')).toEqual({ type: GgufValueType.INT8, value: -128 });
    expect(kv.get('u16')).toEqual({ type: GgufValueType.UINT16, value: 65535 });
    expect(kv.get('i16')).toEqual({ type: GgufValueType.INT16, value: -32768 });
    expect(kv.get('u32')).toEqual({ type: GgufValueType.UINT32, value: 4294967295 });
    expect(kv.get('i32')).toEqual({ type: GgufValueType.INT32, value: -2147483648 });
    expect(kv.get('f32')).toEqual({ type: GgufValueType.FLOAT32, value: Math.fround(0.1) });
    expect(kv.get('t')).toEqual({ type: GgufValueType.BOOL, value: 1 });
    expect(kv.get('f')).toEqual({ type: GgufValueType.BOOL, value: 0 });
    expect(kv.get('s')).toEqual({ type: GgufValueType.STRING, value: 'héllo' });
    expect(kv.get('u64')).toEqual({ type: GgufValueType.UINT64, value: 2n ** 64n - 1n });
    expect(kv.get('i64')).toEqual({ type: GgufValueType.INT64, value: -(2n ** 63n) });
    expect(kv.get('i64small')).toEqual({ type: GgufValueType.INT64, value: -5n });
    expect(kv.get('f64')).toEqual({ type: GgufValueType.FLOAT64, value: 0.1 });
    expect(kv.get('strings')?.value).toEqual({ elementType: GgufValueType.STRING, values: ['a', '', 'ccc'] });
    expect(kv.get('ints')?.value).toEqual({ elementType: GgufValueType.INT32, values: [1, -2, 3] });
    expect(kv.get('floats')?.value).toEqual({ elementType: GgufValueType.FLOAT32, values: [0.5, -1] });
    expect(kv.get('empty')?.value).toEqual({ elementType: GgufValueType.UINT8, values: [] });
    expect(kv.get('nested')?.value).toEqual({
      elementType: GgufValueType.ARRAY,
      values: [
        { elementType: GgufValueType.UINT16, values: [1, 2] },
        { elementType: GgufValueType.BOOL, values: [1] },
      ],
    });
  });

  it('writes version 2 when asked and honours a custom alignment', () => {
    const file = new GgufWriter({ version: 2, alignment: 64 })
      .addTensor('a', [3], TensorType.F32, new Uint8Array(12).fill(1))
      .addTensor('b', [1], TensorType.F16, new Uint8Array(2).fill(2))
      .toBuffer();
    expect(file.readUInt32LE(4)).toBe(2);
    expect(readMetadata(file).get('general.alignment')).toEqual({ type: GgufValueType.UINT32, value: 64 });
    expect(file.length % 64).toBe(0);
    // 'b' sits at offset 64 of the data section, which itself starts on a 64-byte boundary.
    const dataStart = file.length - 128;
    expect(dataStart % 64).toBe(0);
    expect(file[dataStart]).toBe(1);
    expect(file[dataStart + 12]).toBe(0);
    expect(file[dataStart + 64]).toBe(2);
  });

  it('streams chunked tensor data to disk with the same bytes as the in-memory file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
    try {
      const rows = 5;
      const row = (r: number): Uint8Array => new Uint8Array(34).fill(r + 1);
      const build = (): GgufWriter =>
        new GgufWriter()
          .addString('general.architecture', 'llama')
          .addTensor('w', [32, rows], TensorType.Q8_0, function* () {
            for (let r = 0; r < rows; r++) yield row(r);
          })
          .addTensor('n', [4], TensorType.F32, async function* () {
            yield new Uint8Array(8).fill(9);
            yield new Uint8Array(8).fill(10);
          });
      const path = join(dir, 'model.gguf');
      await build().writeFile(path);
      expect(existsSync(`${path}.partial`)).toBe(false);
      const onDisk = readFileSync(path);
      expect(() => build().toBuffer()).toThrow("tensor 'n' has an asynchronous producer");
      const syncOnly = new GgufWriter()
        .addString('general.architecture', 'llama')
        .addTensor('w', [32, rows], TensorType.Q8_0, Buffer.concat(Array.from({ length: rows }, (_, r) => row(r))))
        .addTensor('n', [4], TensorType.F32, Buffer.concat([new Uint8Array(8).fill(9), new Uint8Array(8).fill(10)]));
      expect(onDisk.equals(syncOnly.toBuffer())).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a producer that supplies the wrong number of bytes and leaves no file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
    try {
      const path = join(dir, 'bad.gguf');
      const short = new GgufWriter().addTensor('w', [8], TensorType.F32, function* () {
        yield new Uint8Array(16);
      });
      await expect(short.writeFile(path)).rejects.toThrow("tensor 'w' needs 32 bytes but its data supplied 16");
      const long = new GgufWriter().addTensor('w', [8], TensorType.F32, function* () {
        yield new Uint8Array(40);
      });
      await expect(long.writeFile(path)).rejects.toThrow('supplied more');
      expect(() => long.toBuffer()).toThrow('supplied more');
      expect(existsSync(path)).toBe(false);
      expect(existsSync(`${path}.partial`)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects invalid metadata and tensors with messages that name them', () => {
    const w = new GgufWriter().addUint8('k', 1);
    expect(() => w.addUint8('k', 2)).toThrow("duplicate key 'k'");
    expect(() => w.addUint8('x', 256)).toThrow("key 'x' = 256 is out of range for UINT8");
    expect(() => w.addInt32('x', 1.5)).toThrow('not a safe integer');
    expect(() => w.addUint64('x', 2 ** 60)).toThrow('not a safe integer');
    expect(() => w.addInt64('x', 2n ** 63n)).toThrow('out of range for INT64');
    expect(() => w.addArray('x', GgufValueType.INT8, [1, 200])).toThrow("key 'x'[1] = 200 is out of range");
    expect(() => w.addArray('x', GgufValueType.STRING, ['a', 3])).toThrow("key 'x'[1] must be a string");
    expect(() => w.addUint32('general.alignment', 48)).toThrow('general.alignment must be a uint32 power of two');
    expect(() => new GgufWriter({ alignment: 0 })).toThrow('general.alignment');
    expect(readMetadata(w.toBuffer()).size).toBe(1); // rejected values left nothing behind
    expect(() => w.addTensor('q', [48], TensorType.Q4_0, new Uint8Array(27))).toThrow(
      "tensor 'q' row length 48 is not a multiple of the Q4_0 block size 32",
    );
    expect(() => w.addTensor('x'.repeat(64), [1], TensorType.F32, new Uint8Array(4))).toThrow('must be 1 to 63 bytes');
    expect(() => w.addTensor('d', [1, 1, 1, 1, 1], TensorType.F32, new Uint8Array(4))).toThrow('1 to 4 dimensions');
    expect(() => w.addTensor('z', [0], TensorType.F32, new Uint8Array(0))).toThrow('invalid dimension 0');
    expect(() => w.addTensor('s', [4], TensorType.F32, new Uint8Array(15))).toThrow(
      "tensor 's' (F32 4) needs 16 bytes, got 15",
    );
    w.addTensor('ok', [4], TensorType.F32, new Uint8Array(16));
    expect(() => w.addTensor('ok', [4], TensorType.F32, new Uint8Array(16))).toThrow("duplicate tensor name 'ok'");
  });
});
