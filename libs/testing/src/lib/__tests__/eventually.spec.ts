// eventually(): asks again until the probe gives a value, and says what it waited for when it never does.
import { eventually, StopWaiting } from '../eventually';

describe('eventually', () => {
  it('resolves with the first value that is not undefined, null or false, asking no more after it', async () => {
    const answers = [undefined, null, false, 'ready', 'later'];
    let asked = 0;
    const value = await eventually('the answer', () => answers[asked++], { intervalMs: 1 });
    expect(value).toBe('ready');
    expect(asked).toBe(4);
  });

  it('waits for an async probe and treats a throw as not yet', async () => {
    let asked = 0;
    const value = await eventually(
      'a server that refuses at first',
      async () => {
        asked += 1;
        if (asked < 3) throw new Error('ECONNREFUSED');
        return { status: 200 };
      },
      { intervalMs: 1 },
    );
    expect(value).toEqual({ status: 200 });
    expect(asked).toBe(3);
  });

  it('fails naming what it waited for, the last error and the detail when the probe never gives a value', async () => {
    let asked = 0;
    const failure = eventually(
      'usage recorded',
      () => {
        asked += 1;
        throw new Error(`not yet (${asked})`);
      },
      { timeoutMs: 30, intervalMs: 5, detail: () => 'billing log tail' },
    );
    await expect(failure).rejects.toThrow(
      /waiting for usage recorded \(last error: not yet \(\d+\)\)\nbilling log tail$/,
    );
    expect(asked).toBeGreaterThan(1);
  });

  it('stops at once when the probe throws StopWaiting (waiting longer cannot help)', async () => {
    let asked = 0;
    const failure = eventually(
      'a process that exited',
      () => {
        asked += 1;
        throw new StopWaiting('exited during start-up');
      },
      { timeoutMs: 60_000, intervalMs: 1 },
    );
    await expect(failure).rejects.toThrow('exited during start-up');
    expect(asked).toBe(1);
  });
});
