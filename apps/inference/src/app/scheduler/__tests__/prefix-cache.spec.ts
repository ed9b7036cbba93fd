// Specification of the prompt-prefix cache on the real engine (a generated tiny model): a prompt that starts like an
// earlier one feeds only the rest and answers exactly what it answers without the cache; snapshots are evicted least
// recently used first within the byte budget; a budget of 0 turns it off; closing the scheduler frees them.
import { EngineModel, type EngineSequence, type SamplerSettings } from '@sovren/engine';
import { writeTinyModel } from '@sovren/engine/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GenerationJob, type JobOutcome } from '../generation-job';
import { ModelScheduler, type SchedulerObserver } from '../model-scheduler';
import { PrefixCache } from '../prefix-cache';

jest.setTimeout(60_000);

const CONTEXT = 256;
const BLOCK = 32;

let dir: string;
let engine: EngineModel;
/** KV bytes of one cached token. */
let tokenBytes: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-prefix-cache-'));
  const model = await writeTinyModel(join(dir, 'tiny.gguf'), { contextLength: CONTEXT, muteEndOfGeneration: true });
  engine = await EngineModel.load(model.path, { threads: 1 });
  const probe = engine.createSequence({ contextSize: 1 });
  tokenBytes = probe.cacheBytes;
  probe.close();
});

afterAll(() => {
  engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Recorded {
  promptTokens: number;
  lookups: number[];
  bytes: number;
  entries: number;
}

function scheduler(budgetBytes: number, recorded: Recorded): ModelScheduler<EngineSequence> {
  const observer: SchedulerObserver = {
    onStep: ({ promptTokens }) => (recorded.promptTokens += promptTokens),
    onToken: () => undefined,
    onState: () => undefined,
    onPrefixCache: ({ lookup, bytes, entries }) => {
      if (lookup) recorded.lookups.push(lookup.hitTokens);
      recorded.bytes = bytes;
      recorded.entries = entries;
    },
  };
  return new ModelScheduler<EngineSequence>(
    engine,
    {
      model: 'tiny',
      maxSequences: 2,
      sequenceContext: CONTEXT,
      maxQueue: 4,
      promptChunk: 64,
      prefixCache: { budgetBytes, blockTokens: BLOCK },
    },
    observer,
  );
}

const record = (): Recorded => ({ promptTokens: 0, lookups: [], bytes: 0, entries: 0 });

async function run(
  s: ModelScheduler<EngineSequence>,
  promptTokens: number[],
  sampler: SamplerSettings = { temperature: 0, repeatPenalty: 1.3, penaltyLastN: 128 },
): Promise<JobOutcome> {
  let resolve: (outcome: JobOutcome) => void = () => undefined;
  const outcome = new Promise<JobOutcome>((r) => (resolve = r));
  const job = new GenerationJob(
    { requestId: 'r', promptTokens, maxTokens: 12, sampler, stop: [], deadline: Date.now() + 60_000 },
    { onText: () => undefined, onFinish: resolve },
  );
  s.submit(job);
  return outcome;
}

/** A prompt of n tokens; `variant` changes every token from `from` on. */
const prompt = (n: number, variant = 0, from = 0): number[] =>
  Array.from({ length: n }, (_, i) => 10 + ((i * 7 + (i >= from ? variant * 13 : 0)) % 200));

describe('prefix cache in the scheduler', () => {
  it('serves a prompt sharing a cached prefix from it, answering exactly as without the cache', async () => {
    const first = prompt(150);
    const second = prompt(170, 1, 140); // shares 140 tokens: 4 whole blocks of 32
    const uncached = record();
    const plain = scheduler(0, uncached);
    const expectedFirst = await run(plain, first);
    const expectedSecond = await run(plain, second);
    await plain.close();

    const cached = record();
    const s = scheduler(64 * 1024 * 1024, cached);
    const a = await run(s, first);
    const b = await run(s, second);
    expect(cached.lookups).toEqual([0, 128]);
    expect(b.cachedPromptTokens).toBe(128);
    expect(b.promptTokens).toBe(170);
    expect(cached.promptTokens).toBe(150 + 170 - 128);
    expect([a.text, b.text]).toEqual([expectedFirst.text, expectedSecond.text]);
    expect([a.completionTokens, b.completionTokens]).toEqual([12, 12]);
    // The second's 5 blocks start with the first's 4: one snapshot serves both.
    expect(cached.entries).toBe(1);
    expect(cached.bytes).toBe(160 * tokenBytes);

    // The same prompt again uses all but its last block's worth (at least one token is always fed).
    const again = await run(s, first);
    expect(again.cachedPromptTokens).toBe(128);
    expect(again.text).toBe(expectedFirst.text);
    await s.close();
    expect(cached.bytes).toBe(0);
    expect(cached.entries).toBe(0);
  });

  it('gives a cached request its own sampler: the seed and penalties of the first never leak into the second', async () => {
    const shared = prompt(120);
    const sampled: SamplerSettings = { temperature: 0.9, seed: 7, repeatPenalty: 1.2, penaltyLastN: 64 };
    const plain = scheduler(0, record());
    const expected = await run(plain, shared, sampled);
    await plain.close();

    const s = scheduler(64 * 1024 * 1024, record());
    await run(s, shared, { temperature: 0.9, seed: 99, repeatPenalty: 1.8, penaltyLastN: 16 });
    const hit = await run(s, shared, sampled);
    expect(hit.cachedPromptTokens).toBe(96);
    expect(hit.text).toBe(expected.text);
    await s.close();
  });

  it('replaces the snapshot of a shorter prefix when the conversation grows', async () => {
    const recorded = record();
    const s = scheduler(64 * 1024 * 1024, recorded);
    await run(s, prompt(70));
    expect(recorded.entries).toBe(1);
    expect(recorded.bytes).toBe(64 * tokenBytes);
    const grown = await run(s, prompt(200));
    expect(grown.cachedPromptTokens).toBe(64);
    expect(recorded.entries).toBe(1);
    expect(recorded.bytes).toBe(192 * tokenBytes);
    await s.close();
  });

  it('evicts the least recently used snapshot to stay within the budget', async () => {
    const recorded = record();
    // Room for two 64-token snapshots, not three.
    const s = scheduler(2 * 64 * tokenBytes + 1, recorded);
    const [p1, p2, p3] = [1, 2, 3].map((v) => prompt(70, v));
    await run(s, p1);
    await run(s, p2);
    expect((await run(s, p1)).cachedPromptTokens).toBe(64); // p1 is now the most recently used
    await run(s, p3); // evicts p2
    expect(recorded.entries).toBe(2);
    expect(recorded.bytes).toBeLessThanOrEqual(2 * 64 * tokenBytes + 1);
    expect((await run(s, p1)).cachedPromptTokens).toBe(64);
    expect((await run(s, p3)).cachedPromptTokens).toBe(64);
    expect((await run(s, p2)).cachedPromptTokens).toBe(0);
    await s.close();
  });

  it('caches nothing that would not fit in the budget', async () => {
    const recorded = record();
    const s = scheduler(64 * tokenBytes - 1, recorded);
    await run(s, prompt(70));
    expect(recorded.entries).toBe(0);
    expect((await run(s, prompt(70))).cachedPromptTokens).toBe(0);
    await s.close();
  });

  it('is off with a budget of 0: no lookups, every prompt fed whole', async () => {
    const recorded = record();
    const s = scheduler(0, recorded);
    await run(s, prompt(100));
    const again = await run(s, prompt(100));
    expect(again.cachedPromptTokens).toBe(0);
    expect(recorded.lookups).toEqual([]);
    expect(recorded.promptTokens).toBe(200);
    await s.close();
  });

  it('refuses a block size that is not a positive integer, and a negative budget', () => {
    const create = (tokens: number): EngineSequence => engine.createSequence({ contextSize: tokens });
    expect(() => new PrefixCache({ budgetBytes: 1, blockTokens: 0 }, create)).toThrow(/block size must be a positive/);
    expect(() => new PrefixCache({ budgetBytes: -1, blockTokens: 16 }, create)).toThrow(
      /budget must be a non-negative/,
    );
  });
});
