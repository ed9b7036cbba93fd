// Prompt-prefix cache of one model: KV snapshots of prompts already evaluated, found by the chained hash of their
// fixed-size token blocks, shared across requests and evicted least recently used first within a byte budget.
import { createHash } from 'node:crypto';

import type { BatchSequence } from './batch-engine.port';

export interface PrefixCacheOptions {
  /** Bytes the snapshots may hold together; 0 disables the cache. */
  budgetBytes: number;
  /** Tokens per block: prefixes are cached and matched in whole blocks. */
  blockTokens: number;
}

export interface PrefixCacheHit<S> {
  /** The snapshot to copy from. */
  source: S;
  /** Prompt tokens it holds (a whole number of blocks, less than the prompt). */
  tokens: number;
}

interface Entry<S> {
  snapshot: S;
  /** The tokens the snapshot holds (whole blocks). */
  tokens: readonly number[];
  /** Chained key of each of its blocks, in order. */
  keys: string[];
  bytes: number;
}

export class PrefixCache<S extends BatchSequence> {
  /** Block key → the snapshots holding that prefix (several when prompts diverge after it). */
  private readonly byKey = new Map<string, Set<Entry<S>>>();
  /** Every snapshot, least recently used first (a Set iterates in insertion order; a use re-inserts). */
  private readonly lru = new Set<Entry<S>>();
  private heldBytes = 0;
  lookups = 0;
  hits = 0;
  hitTokens = 0;

  /** `createSnapshot(n)`: an empty sequence of this model with room for n tokens. */
  constructor(
    private readonly options: PrefixCacheOptions,
    private readonly createSnapshot: (tokens: number) => S,
  ) {
    if (!Number.isInteger(options.blockTokens) || options.blockTokens < 1) {
      throw new RangeError(`prefix cache block size must be a positive integer, got ${options.blockTokens}`);
    }
    if (!Number.isFinite(options.budgetBytes) || options.budgetBytes < 0) {
      throw new RangeError(`prefix cache budget must be a non-negative number of bytes, got ${options.budgetBytes}`);
    }
  }

  get enabled(): boolean {
    return this.options.budgetBytes > 0;
  }

  /** Bytes the snapshots hold now. */
  get bytes(): number {
    return this.heldBytes;
  }

  get entries(): number {
    return this.lru.size;
  }

  /**
   * The snapshot holding the longest block-aligned prefix of `prompt` that leaves at least one prompt token to feed
   * (its logits start the generation), or undefined. Counts a lookup, and a hit with its tokens.
   */
  lookup(prompt: readonly number[]): PrefixCacheHit<S> | undefined {
    if (!this.enabled) return undefined;
    this.lookups += 1;
    const keys = this.blockKeys(prompt, Math.floor((prompt.length - 1) / this.options.blockTokens));
    for (let blocks = keys.length; blocks > 0; blocks--) {
      const candidates = this.byKey.get(keys[blocks - 1]);
      if (!candidates) continue;
      const length = blocks * this.options.blockTokens;
      // The hash finds it; the tokens themselves decide, so a collision can never change an answer.
      const entry = [...candidates].reverse().find((e) => samePrefix(e.tokens, prompt, length));
      if (!entry) continue;
      this.touch(entry);
      this.hits += 1;
      this.hitTokens += length;
      return { source: entry.snapshot, tokens: length };
    }
    return undefined;
  }

  /**
   * Caches the whole blocks of `prompt`, which `sequence` holds from position 0 (call it once the prompt is fed,
   * before any generated token enters the sequence). Nothing happens when they are cached already or would not
   * fit in the budget; a snapshot of a shorter prefix of the same prompt is replaced by this longer one.
   */
  insert(prompt: readonly number[], sequence: S): void {
    if (!this.enabled) return;
    const blocks = Math.floor(Math.min(prompt.length, sequence.position) / this.options.blockTokens);
    if (blocks === 0) return;
    const length = blocks * this.options.blockTokens;
    const keys = this.blockKeys(prompt, blocks);
    const held = [...(this.byKey.get(keys[blocks - 1]) ?? [])].find((e) => samePrefix(e.tokens, prompt, length));
    if (held) {
      this.touch(held);
      return;
    }
    const estimate = (sequence.cacheBytes / sequence.contextSize) * length;
    if (estimate > this.options.budgetBytes) return;
    const tokens = prompt.slice(0, length);
    const snapshot = this.createSnapshot(length);
    try {
      snapshot.copyPrefix(sequence, tokens);
    } catch (error) {
      snapshot.close();
      throw error;
    }
    const entry: Entry<S> = { snapshot, tokens, keys, bytes: snapshot.cacheBytes };
    // Shorter prefixes of this prompt are now redundant: the new snapshot serves every lookup they served.
    for (const older of [...this.lru]) {
      if (older.tokens.length < length && samePrefix(older.tokens, tokens, older.tokens.length)) this.evict(older);
    }
    for (const key of keys) {
      const set = this.byKey.get(key) ?? new Set<Entry<S>>();
      set.add(entry);
      this.byKey.set(key, set);
    }
    this.lru.add(entry);
    this.heldBytes += entry.bytes;
    for (const oldest of this.lru) {
      if (this.heldBytes <= this.options.budgetBytes || oldest === entry) break;
      this.evict(oldest);
    }
  }

  /** Frees every snapshot (the model is unloading). */
  clear(): void {
    for (const entry of [...this.lru]) this.evict(entry);
  }

  /** Chained keys of the first `blocks` blocks: each hashes the previous key and its own token ids. */
  private blockKeys(prompt: readonly number[], blocks: number): string[] {
    const keys: string[] = [];
    const size = this.options.blockTokens;
    let previous = '';
    for (let b = 0; b < blocks; b++) {
      const ids = Int32Array.from(prompt.slice(b * size, (b + 1) * size));
      previous = createHash('sha256').update(previous).update(new Uint8Array(ids.buffer)).digest('base64');
      keys.push(previous);
    }
    return keys;
  }

  private touch(entry: Entry<S>): void {
    this.lru.delete(entry);
    this.lru.add(entry);
  }

  private evict(entry: Entry<S>): void {
    if (!this.lru.delete(entry)) return;
    for (const key of entry.keys) {
      const set = this.byKey.get(key);
      set?.delete(entry);
      if (set?.size === 0) this.byKey.delete(key);
    }
    this.heldBytes -= entry.bytes;
    entry.snapshot.close();
  }
}

function samePrefix(a: readonly number[], b: readonly number[], length: number): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}
