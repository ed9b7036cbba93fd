import { CancelledError, FairScheduler, QueueFullError } from '../fair-scheduler';

/** A model run that finishes when the test says so, recording when it started. */
function gate(log: string[], name: string): { run: () => Promise<string>; finish: () => void } {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    run: async () => {
      log.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('FairScheduler', () => {
  it('takes runs from the open requests in turn, so a long text does not hold back another call', async () => {
    const scheduler = new FairScheduler(1, 10);
    const long = scheduler.open();
    const short = scheduler.open();
    const log: string[] = [];
    const gates = ['a1', 'a2', 'a3', 'a4'].map((n) => gate(log, n));
    const b1 = gate(log, 'b1');
    const results = gates.map((g) => long.run(g.run));
    const shortResult = short.run(b1.run);
    await settle();
    expect(log).toEqual(['a1']);
    gates[0].finish();
    await settle();
    // b1 comes right after the run in progress, not after the whole long text.
    expect(log).toEqual(['a1', 'b1']);
    b1.finish();
    await expect(shortResult).resolves.toBe('b1');
    for (const g of gates.slice(1)) {
      await settle();
      g.finish();
    }
    await expect(Promise.all(results)).resolves.toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(log).toEqual(['a1', 'b1', 'a2', 'a3', 'a4']);
  });

  it('runs up to its slots at once', async () => {
    const scheduler = new FairScheduler(2, 10);
    const log: string[] = [];
    const lanes = [scheduler.open(), scheduler.open(), scheduler.open()];
    const gates = ['x', 'y', 'z'].map((n) => gate(log, n));
    gates.forEach((g, i) => void lanes[i].run(g.run));
    await settle();
    expect(log).toEqual(['x', 'y']);
    gates[1].finish();
    await settle();
    expect(log).toEqual(['x', 'y', 'z']);
    expect(scheduler.waiting).toBe(0);
  });

  it('refuses a request beyond maxLanes and rejects the waiting runs of a closed request', async () => {
    const scheduler = new FairScheduler(1, 2);
    const first = scheduler.open();
    const second = scheduler.open();
    expect(() => scheduler.open()).toThrow(QueueFullError);
    const log: string[] = [];
    const busy = gate(log, 'busy');
    void first.run(busy.run);
    const waiting = second.run(async () => 'never');
    second.close();
    await expect(waiting).rejects.toThrow(CancelledError);
    await expect(second.run(async () => 'late')).rejects.toThrow(CancelledError);
    expect(scheduler.openLanes).toBe(1);
    expect(() => scheduler.open()).not.toThrow();
    busy.finish();
  });
});
