// Writes GGUF v3 (or v2) files: explicitly typed metadata, then tensor infos, then aligned tensor data.
// Tensor data is streamed tensor by tensor (chunk by chunk when given a producer), so multi-GB models are written
// without ever holding the whole file in memory. The C++ reader is native/src/gguf/gguf-reader.cpp.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

import { TensorType, rowBytes, tensorTypeTraits } from '../quant/tensor-type';

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** An array nested inside an array value. */
export interface GgufArray {
  readonly elementType: GgufValueType;
  readonly values: readonly GgufArrayElement[];
}
export type GgufArrayElement = number | bigint | boolean | string | GgufArray;

/** Tensor bytes: all at once, or a producer called once at write time yielding consecutive chunks. */
export type GgufTensorData = Uint8Array | (() => Iterable<Uint8Array> | AsyncIterable<Uint8Array>);

export interface GgufWriterOptions {
  /** 3 (default) or 2: the encodings are identical, only the version field differs. */
  readonly version?: 2 | 3;
  /** Data alignment; when not 32 it is written as `general.alignment` (uint32). */
  readonly alignment?: number;
}

interface PendingTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: TensorType;
  readonly nbytes: number;
  readonly data: GgufTensorData;
  offset: number;
}

const MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
const DEFAULT_ALIGNMENT = 32;
const MAX_TENSOR_NAME_BYTES = 63; // ggml's GGML_MAX_NAME - 1: llama.cpp refuses longer names
const textEncoder = new TextEncoder();

/** Growable little-endian byte buffer for the header part of the file (metadata and tensor infos). */
class ByteSink {
  private bytes = new Uint8Array(1024);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const encoded = textEncoder.encode(s);
    this.u64(BigInt(encoded.length));
    this.raw(encoded);
  }
  zeros(n: number): void {
    this.reserve(n);
    this.bytes.fill(0, this.length, this.length + n);
    this.length += n;
  }
  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

const INTEGER_RANGES: Partial<Record<GgufValueType, readonly [bigint, bigint]>> = {
  [GgufValueType.UINT8]: [0n, 0xffn],
  [GgufValueType.INT8]: [-0x80n, 0x7fn],
  [GgufValueType.UINT16]: [0n, 0xffffn],
  [GgufValueType.INT16]: [-0x8000n, 0x7fffn],
  [GgufValueType.UINT32]: [0n, 0xffffffffn],
  [GgufValueType.INT32]: [-0x80000000n, 0x7fffffffn],
  [GgufValueType.UINT64]: [0n, 0xffffffffffffffffn],
  [GgufValueType.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function typeName(t: GgufValueType): string {
  return GgufValueType[t] ?? `unknown(${String(t)})`;
}

function alignUp(x: number, alignment: number): number {
  return Math.ceil(x / alignment) * alignment;
}

/** Encodes one value of type `type` (validating range and kind) into `sink`; `where` names it in errors. */
function encodeValue(sink: ByteSink, type: GgufValueType, value: GgufArrayElement, where: string): void {
  const range = INTEGER_RANGES[type];
  if (range !== undefined) {
    if (typeof value !== 'number' && typeof value !== 'bigint') {
      throw new Error(`GGUF writer: ${where} must be an integer for ${typeName(type)}, got ${typeof value}`);
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`GGUF writer: ${where} = ${value} is not a safe integer (pass a bigint for 64-bit values)`);
    }
    const big = BigInt(value);
    if (big < range[0] || big > range[1]) {
      throw new Error(`GGUF writer: ${where} = ${big} is out of range for ${typeName(type)}`);
    }
    switch (type) {
      case GgufValueType.UINT8:
        sink.u8(Number(big));
        return;
      case GgufValueType.INT8:
        sink.i8(Number(big));
        return;
      case GgufValueType.UINT16:
        sink.u16(Number(big));
        return;
      case GgufValueType.INT16:
        sink.i16(Number(big));
        return;
      case GgufValueType.UINT32:
        sink.u32(Number(big));
        return;
      case GgufValueType.INT32:
        sink.i32(Number(big));
        return;
      case GgufValueType.UINT64:
        sink.u64(big);
        return;
      case GgufValueType.INT64:
        sink.i64(big);
        return;
      default:
        break;
    }
  }
  switch (type) {
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof value !== 'number') {
        throw new Error(`GGUF writer: ${where} must be a number for ${typeName(type)}, got ${typeof value}`);
      }
      if (type === GgufValueType.FLOAT32) sink.f32(value);
      else sink.f64(value);
      return;
    case GgufValueType.BOOL:
      if (typeof value !== 'boolean') throw new Error(`GGUF writer: ${where} must be a boolean, got ${typeof value}`);
      sink.u8(value ? 1 : 0);
      return;
    case GgufValueType.STRING:
      if (typeof value !== 'string') throw new Error(`GGUF writer: ${where} must be a string, got ${typeof value}`);
      sink.string(value);
      return;
    case GgufValueType.ARRAY: {
      if (typeof value !== 'object' || value === null || !('elementType' in value)) {
        throw new Error(`GGUF writer: ${where} must be a nested array { elementType, values }`);
      }
      encodeArray(sink, value.elementType, value.values, where);
      return;
    }
    default:
      throw new Error(`GGUF writer: ${where} has unknown value type ${String(type)}`);
  }
}

function encodeArray(
  sink: ByteSink,
  elementType: GgufValueType,
  values: readonly GgufArrayElement[],
  where: string,
): void {
  if (!(elementType in GgufValueType))
    throw new Error(`GGUF writer: ${where} has unknown element type ${String(elementType)}`);
  sink.u32(elementType);
  sink.u64(BigInt(values.length));
  for (let i = 0; i < values.length; i++) encodeValue(sink, elementType, values[i], `${where}[${i}]`);
}

export class GgufWriter {
  private readonly version: 2 | 3;
  private alignment = DEFAULT_ALIGNMENT;
  private readonly metadata = new ByteSink();
  private readonly keys = new Set<string>();
  private readonly tensors: PendingTensor[] = [];
  private readonly tensorNames = new Set<string>();

  constructor(options: GgufWriterOptions = {}) {
    this.version = options.version ?? 3;
    if (this.version !== 2 && this.version !== 3)
      throw new Error(`GGUF writer: version must be 2 or 3, got ${String(this.version)}`);
    if (options.alignment !== undefined && options.alignment !== DEFAULT_ALIGNMENT) {
      this.addUint32('general.alignment', options.alignment);
    }
  }

  addUint8(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT8, value);
  }
  addInt8(key: string, value: number): this {
    return this.add(key, GgufValueType.INT8, value);
  }
  addUint16(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT16, value);
  }
  addInt16(key: string, value: number): this {
    return this.add(key, GgufValueType.INT16, value);
  }
  addUint32(key: string, value: number): this {
    return this.add(key, GgufValueType.UINT32, value);
  }
  addInt32(key: string, value: number): this {
    return this.add(key, GgufValueType.INT32, value);
  }
  addUint64(key: string, value: number | bigint): this {
    return this.add(key, GgufValueType.UINT64, value);
  }
  addInt64(key: string, value: number | bigint): this {
    return this.add(key, GgufValueType.INT64, value);
  }
  addFloat32(key: string, value: number): this {
    return this.add(key, GgufValueType.FLOAT32, value);
  }
  addFloat64(key: string, value: number): this {
    return this.add(key, GgufValueType.FLOAT64, value);
  }
  addBool(key: string, value: boolean): this {
    return this.add(key, GgufValueType.BOOL, value);
  }
  addString(key: string, value: string): this {
    return this.add(key, GgufValueType.STRING, value);
  }
  addArray(key: string, elementType: GgufValueType, values: readonly GgufArrayElement[]): this {
    return this.add(key, GgufValueType.ARRAY, { elementType, values });
  }

  /** Any value with an explicit type (arrays as { elementType, values }). */
  add(key: string, type: GgufValueType, value: GgufArrayElement): this {
    if (this.keys.has(key)) throw new Error(`GGUF writer: duplicate key '${key}'`);
    if (key === 'general.alignment') this.setAlignmentFrom(type, value);
    // Encode into a scratch sink first so a rejected value leaves the metadata untouched.
    const encoded = new ByteSink();
    encoded.string(key);
    encoded.u32(type);
    encodeValue(encoded, type, value, `key '${key}'`);
    this.metadata.raw(encoded.result());
    this.keys.add(key);
    return this;
  }

  /**
   * Adds a tensor. `dims` in GGUF order (dims[0] = ne[0], the innermost, contiguous dimension), 1 to 4 of them;
   * dims[0] must be a whole number of the type's blocks. `data` must supply exactly the tensor's byte size.
   */
  addTensor(name: string, dims: readonly number[], type: TensorType, data: GgufTensorData): this {
    const nameBytes = textEncoder.encode(name).length;
    if (nameBytes === 0 || nameBytes > MAX_TENSOR_NAME_BYTES) {
      throw new Error(
        `GGUF writer: tensor name '${name}' must be 1 to ${MAX_TENSOR_NAME_BYTES} bytes, got ${nameBytes}`,
      );
    }
    if (this.tensorNames.has(name)) throw new Error(`GGUF writer: duplicate tensor name '${name}'`);
    if (dims.length < 1 || dims.length > 4) {
      throw new Error(`GGUF writer: tensor '${name}' must have 1 to 4 dimensions, got ${dims.length}`);
    }
    for (const d of dims) {
      if (!Number.isSafeInteger(d) || d < 1)
        throw new Error(`GGUF writer: tensor '${name}' has invalid dimension ${d}`);
    }
    const traits = tensorTypeTraits(type);
    if (dims[0] % traits.blockElements !== 0) {
      throw new Error(
        `GGUF writer: tensor '${name}' row length ${dims[0]} is not a multiple of the ${traits.name} block size ${traits.blockElements}`,
      );
    }
    const rows = dims.slice(1).reduce((a, b) => a * b, 1);
    const nbytes = rowBytes(type, dims[0]) * rows;
    if (!Number.isSafeInteger(nbytes)) throw new Error(`GGUF writer: tensor '${name}' is too large`);
    if (data instanceof Uint8Array && data.length !== nbytes) {
      throw new Error(
        `GGUF writer: tensor '${name}' (${traits.name} ${dims.join('x')}) needs ${nbytes} bytes, got ${data.length}`,
      );
    }
    this.tensors.push({ name, dims: [...dims], type, nbytes, data, offset: 0 });
    this.tensorNames.add(name);
    return this;
  }

  /** Header, metadata, tensor infos and padding up to the data section (tensor offsets are assigned here). */
  private header(): Uint8Array {
    const sink = new ByteSink();
    sink.raw(Uint8Array.from(MAGIC));
    sink.u32(this.version);
    sink.u64(BigInt(this.tensors.length));
    sink.u64(BigInt(this.keys.size));
    sink.raw(this.metadata.result());
    let offset = 0;
    for (const t of this.tensors) {
      t.offset = offset;
      offset = alignUp(offset + t.nbytes, this.alignment);
      sink.string(t.name);
      sink.u32(t.dims.length);
      for (const d of t.dims) sink.u64(BigInt(d));
      sink.u32(t.type);
      sink.u64(BigInt(t.offset));
    }
    sink.zeros(alignUp(sink.length, this.alignment) - sink.length);
    return sink.result();
  }

  /** Writes the file to `path` (via a temporary file renamed into place once complete). */
  async writeFile(path: string): Promise<void> {
    const tmpPath = `${path}.partial`;
    const file = await open(tmpPath, 'w');
    let closed = false;
    try {
      await writeAll(file, this.header());
      for (const t of this.tensors) {
        let written = 0;
        for await (const chunk of chunksOf(t)) {
          written += chunk.length;
          if (written > t.nbytes) break;
          await writeAll(file, chunk);
        }
        checkSize(t, written);
        await writeAll(file, new Uint8Array(alignUp(t.nbytes, this.alignment) - t.nbytes));
      }
      closed = true;
      await file.close();
      await rename(tmpPath, path);
    } catch (error) {
      if (!closed) {
        await file.close().catch((closeError: unknown) => {
          throw new AggregateError(
            [error, closeError],
            `GGUF writer: writing '${path}' failed, then closing it failed`,
          );
        });
      }
      await rm(tmpPath, { force: true });
      throw error;
    }
  }

  /** The whole file in memory, for small files; tensor producers must be synchronous here. */
  toBuffer(): Buffer {
    const header = this.header();
    let total = header.length;
    for (const t of this.tensors) total += alignUp(t.nbytes, this.alignment);
    const out = Buffer.alloc(total);
    out.set(header, 0);
    for (const t of this.tensors) {
      const start = header.length + t.offset;
      let written = 0;
      const chunks = t.data instanceof Uint8Array ? [t.data] : t.data();
      if (!(Symbol.iterator in chunks)) {
        throw new Error(`GGUF writer: tensor '${t.name}' has an asynchronous producer; use writeFile()`);
      }
      for (const chunk of chunks) {
        if (written + chunk.length > t.nbytes) {
          written += chunk.length;
          break;
        }
        out.set(chunk, start + written);
        written += chunk.length;
      }
      checkSize(t, written);
    }
    return out;
  }

  private setAlignmentFrom(type: GgufValueType, value: GgufArrayElement): void {
    if (
      type !== GgufValueType.UINT32 ||
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < 1 ||
      value > 2 ** 30 ||
      (value & (value - 1)) !== 0
    ) {
      throw new Error(
        `GGUF writer: general.alignment must be a uint32 power of two up to 2^30, got ${typeName(type)} ${String(value)}`,
      );
    }
    this.alignment = value;
  }
}

function chunksOf(t: PendingTensor): Iterable<Uint8Array> | AsyncIterable<Uint8Array> {
  return t.data instanceof Uint8Array ? [t.data] : t.data();
}

function checkSize(t: PendingTensor, written: number): void {
  if (written !== t.nbytes) {
    throw new Error(
      `GGUF writer: tensor '${t.name}' needs ${t.nbytes} bytes but its data supplied ${written > t.nbytes ? 'more' : written}`,
    );
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}
