// Reads a GGUF file's training context (`<architecture>.context_length`) from its header before the model loads,
// so the registry can ask the engine for a context the model supports. Stops reading once both keys are seen.
import { open, type FileHandle } from 'node:fs/promises';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
/** Metadata value types (GGUF spec) and the byte size of the fixed-size ones. */
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPE_STRING = 8;
const TYPE_ARRAY = 9;
/** A header with more keys than this is not a model we could load anyway. */
const MAX_KEYS = 1_000_000;

/** The training context the file declares, or undefined when the header does not say (or is not GGUF). */
export async function readTrainingContext(path: string): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const reader = new HeaderReader(file);
    if ((await reader.u32()) !== GGUF_MAGIC) return undefined;
    const version = await reader.u32();
    if (version < 2) return undefined;
    await reader.u64(); // tensor count
    const keys = await reader.u64();
    if (keys > MAX_KEYS) return undefined;
    let architecture: string | undefined;
    const contextLengths = new Map<string, number>();
    for (let i = 0; i < keys; i++) {
      const key = await reader.string();
      const type = await reader.u32();
      if (key === 'general.architecture' && type === TYPE_STRING) {
        architecture = await reader.string();
      } else if (key.endsWith('.context_length') && (type === 4 || type === 10 || type === 5 || type === 11)) {
        contextLengths.set(key, type === 4 || type === 5 ? await reader.u32() : await reader.u64());
      } else {
        await reader.skipValue(type);
      }
      if (architecture !== undefined && contextLengths.has(`${architecture}.context_length`)) break;
    }
    return architecture === undefined ? undefined : contextLengths.get(`${architecture}.context_length`);
  } finally {
    await file.close();
  }
}

/** Sequential little-endian reads through a 64 KiB window. */
class HeaderReader {
  private buffer = Buffer.alloc(64 * 1024);
  private start = 0; // file offset of buffer[0]
  private length = 0; // valid bytes in buffer
  private position = 0; // file offset of the next read

  constructor(private readonly file: FileHandle) {}

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  async u64(): Promise<number> {
    const value = (await this.bytes(8)).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('GGUF header value out of range');
    return Number(value);
  }

  async string(): Promise<string> {
    const length = await this.u64();
    return (await this.bytes(length)).toString('utf8');
  }

  async skipValue(type: number): Promise<void> {
    if (type === TYPE_STRING) {
      const length = await this.u64(); // read first: `position += await …` would add to the position before it
      this.position += length;
    } else if (type === TYPE_ARRAY) {
      const itemType = await this.u32();
      const count = await this.u64();
      if (itemType === TYPE_STRING || itemType === TYPE_ARRAY) {
        for (let i = 0; i < count; i++) await this.skipValue(itemType);
      } else {
        this.position += count * this.fixedSize(itemType);
      }
    } else {
      this.position += this.fixedSize(type);
    }
  }

  private fixedSize(type: number): number {
    const size = FIXED_SIZE[type];
    if (size === undefined) throw new Error(`unknown GGUF metadata type ${type}`);
    return size;
  }

  private async bytes(n: number): Promise<Buffer> {
    if (this.position < this.start || this.position + n > this.start + this.length) {
      if (n > this.buffer.length) this.buffer = Buffer.alloc(n);
      const { bytesRead } = await this.file.read(this.buffer, 0, this.buffer.length, this.position);
      this.start = this.position;
      this.length = bytesRead;
      if (bytesRead < n) throw new Error('GGUF header ends early');
    }
    const offset = this.position - this.start;
    this.position += n;
    return this.buffer.subarray(offset, offset + n);
  }
}
