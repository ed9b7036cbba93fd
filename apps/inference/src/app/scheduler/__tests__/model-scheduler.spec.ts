// Specification of continuous batching on the real engine (a generated tiny model): requests join and leave
// between steps, long prompts are fed in chunks beside decoding streams, cancels take effect before the next step.
import { EngineModel, type EngineSequence } from '@sovren/engine';
import { writeTinyModel } from '@sovren/engine/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GenerationJob, type JobOutcome } from '../generation-job';
import { ModelScheduler, QueueFullError, type SchedulerObserver, type SchedulerOptions } from '../model-scheduler';

jest.setTimeout(60_000);

let dir: string;
let engine: EngineModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-scheduler-'));
  const model = await writeTinyModel(join(dir, 'tiny.gguf'), { contextLength: 256, muteEndOfGeneration: true });
  engine = await EngineModel.load(model.path, { threads: 1 });
});

afterAll(() => {
  engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface StepRecord {
  sequences: number;
  promptTokens: number;
  generatedTokens: number;
}

function scheduler(options: Partial<SchedulerOptions> = {}, steps: StepRecord[] = []): ModelScheduler<EngineSequence> {
  const observer: SchedulerObserver = {
    onStep: ({ sequences, promptTokens, generatedTokens }) => steps.push({ sequences, promptTokens, generatedTokens }),
    onToken: () => undefined,
    onState: () => undefined,
  };
  return new ModelScheduler<EngineSequence>(
    engine,
    { model: 'tiny', maxSequences: 4, sequenceContext: 256, maxQueue: 4, promptChunk: 64, ...options },
    observer,
  );
}

function job(
  promptTokens: number[],
  maxTokens: number,
  hooks: {
    onText?: (job: GenerationJob, text: string) => void;
    deadline?: number;
    seed?: number;
    forkOf?: GenerationJob;
  } = {},
): { job: GenerationJob; outcome: Promise<JobOutcome> } {
  let resolve: (outcome: JobOutcome) => void = () => undefined;
  const outcome = new Promise<JobOutcome>((r) => (resolve = r));
  const created: GenerationJob = new GenerationJob(
    {
      requestId: 'r',
      promptTokens,
      maxTokens,
      sampler: { temperature: 0.8, seed: hooks.seed ?? 1 },
      stop: [],
      deadline: hooks.deadline ?? Date.now() + 60_000,
      ...(hooks.forkOf ? { forkOf: hooks.forkOf } : {}),
    },
    { onText: (text) => hooks.onText?.(created, text), onFinish: resolve },
  );
  return { job: created, outcome };
}

const prompt = (n: number): number[] => Array.from({ length: n }, (_, i) => 10 + (i % 200));

describe('ModelScheduler', () => {
  it('drops a request cancelled after its 3rd token before the next step, and frees its sequence', async () => {
    const s = scheduler();
    let texts = 0;
    const { job: j, outcome } = job(prompt(5), 100, {
      onText: (self) => {
        texts += 1;
        if (self.completionTokens === 3) self.cancel();
      },
    });
    s.submit(j);
    const result = await outcome;
    expect(result.finishReason).toBe('cancelled');
    expect(result.completionTokens).toBe(3);
    expect(texts).toBeLessThanOrEqual(3);
    expect(s.active).toBe(0);
    await s.close();
  });

  it('feeds a long prompt in chunks while another stream keeps getting a token every step', async () => {
    const steps: StepRecord[] = [];
    const s = scheduler({ promptChunk: 8 }, steps);
    let second: Promise<JobOutcome> | undefined;
    const first = job(prompt(4), 60, {
      onText: (self) => {
        if (self.completionTokens === 2) {
          const long = job(prompt(100), 4);
          second = long.outcome;
          s.submit(long.job);
        }
      },
    });
    s.submit(first.job);
    const [a] = await Promise.all([first.outcome, new Promise((r) => setTimeout(r, 10)).then(() => second)]);
    if (!second) throw new Error('the long request was never submitted');
    const b = await second;
    expect(a.completionTokens).toBe(60);
    expect(b.completionTokens).toBe(4);
    const prefill = steps.filter((step) => step.promptTokens > 0).slice(1);
    expect(prefill.length).toBeGreaterThanOrEqual(Math.ceil(100 / 8));
    for (const step of prefill) {
      expect(step.promptTokens).toBeLessThanOrEqual(8);
      expect(step.sequences).toBe(2);
      expect(step.generatedTokens).toBeGreaterThanOrEqual(1);
    }
    expect(s.maxStepSequences).toBe(2);
    await s.close();
  });

  it('admits queued requests as sequences free up, and refuses beyond the queue', async () => {
    const s = scheduler({ maxSequences: 1, maxQueue: 1 });
    const a = job(prompt(3), 100);
    const b = job(prompt(3), 5);
    s.submit(a.job);
    s.submit(b.job);
    expect(() => s.submit(job(prompt(3), 5).job)).toThrow(QueueFullError);
    const first = await a.outcome;
    expect(first.completionTokens).toBe(100);
    const second = await b.outcome;
    expect(second.completionTokens).toBe(5);
    // The second waited for the first's 100 steps: its queue time is (about, ms rounding) the first's whole run.
    expect(second.queueMs).toBeGreaterThan(0);
    expect(second.queueMs).toBeGreaterThanOrEqual(first.durationMs - 1);
    await s.close();
  });

  it('feeds the prompt of several choices once: the others fork the first before its last prompt token', async () => {
    const steps: StepRecord[] = [];
    const s = scheduler({ promptChunk: 16 }, steps);
    const leader = job(prompt(40), 6, { seed: 1 });
    const others = [2, 3].map((seed) => job(prompt(40), 6, { seed, forkOf: leader.job }));
    for (const other of others) s.submit(other.job);
    s.submit(leader.job);
    const outcomes = await Promise.all([leader.outcome, ...others.map((o) => o.outcome)]);
    // 39 shared prompt tokens once, then the last one per choice.
    expect(steps.reduce((sum, step) => sum + step.promptTokens, 0)).toBe(39 + 3);
    expect(outcomes.map((o) => o.promptTokens)).toEqual([40, 40, 40]);
    // A forked choice samples exactly what it would have on its own.
    for (const [i, seed] of [2, 3].entries()) {
      const alone = job(prompt(40), 6, { seed });
      s.submit(alone.job);
      expect((await alone.outcome).text).toBe(outcomes[i + 1].text);
    }
    await s.close();
  });

  it('ends a request whose deadline passed, and one the engine refuses, without stopping the others', async () => {
    const s = scheduler();
    const expired = job(prompt(3), 50, { deadline: Date.now() - 1 });
    const invalid = job([10, 99_999_999], 5);
    s.submit(expired.job);
    expect((await expired.outcome).finishReason).toBe('timeout');
    s.submit(invalid.job);
    const failed = await invalid.outcome;
    expect(failed.finishReason).toBe('error');
    expect(failed.error?.message).toMatch(/token|id|vocab/i);
    const fine = job(prompt(3), 4);
    s.submit(fine.job);
    expect((await fine.outcome).completionTokens).toBe(4);
    await s.close();
  });
});
