import { retry, wait } from '../retry';

/** A sleep that returns at once and remembers what it was asked to wait. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

/** An operation that fails `failures` times, then answers `value`. */
function failingTimes<T>(failures: number, value: T) {
  const attempts: number[] = [];
  const operation = async (attempt: number) => {
    attempts.push(attempt);
    if (attempts.length <= failures) throw new Error(`failure ${attempts.length}`);
    return value;
  };
  return { attempts, operation };
}

const schedule = { initialMs: 100, maxMs: 1_000, jitter: 'none' as const };

describe('retry', () => {
  it('retries until the operation succeeds, waiting the backoff between attempts', async () => {
    const { waits, sleep } = recordingSleep();
    const { attempts, operation } = failingTimes(3, 'ok');
    await expect(retry(operation, { ...schedule, sleep })).resolves.toBe('ok');
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(waits).toEqual([100, 200, 400]);
  });

  it('waits a fully jittered delay when jitter is not turned off', async () => {
    const { waits, sleep } = recordingSleep();
    const { operation } = failingTimes(2, 'ok');
    await retry(operation, { initialMs: 100, maxMs: 1_000, random: () => 0.5, sleep });
    expect(waits).toEqual([50, 100]);
  });

  it('gives up after maxAttempts with the last failure', async () => {
    const { waits, sleep } = recordingSleep();
    const { attempts, operation } = failingTimes(5, 'ok');
    await expect(retry(operation, { ...schedule, maxAttempts: 3, sleep })).rejects.toThrow('failure 3');
    expect(attempts).toEqual([1, 2, 3]);
    expect(waits).toEqual([100, 200]);
  });

  it('throws a failure that is not retryable at once', async () => {
    const { waits, sleep } = recordingSleep();
    const { attempts, operation } = failingTimes(5, 'ok');
    const retryable = (error: unknown) => !(error instanceof Error && error.message === 'failure 2');
    await expect(retry(operation, { ...schedule, retryable, sleep })).rejects.toThrow('failure 2');
    expect(attempts).toEqual([1, 2]);
    expect(waits).toEqual([100]);
  });

  it('tells onRetry about each failure that will be retried, with the delay to come', async () => {
    const seen: string[] = [];
    const { operation } = failingTimes(2, 'ok');
    await retry(operation, {
      ...schedule,
      sleep: recordingSleep().sleep,
      onRetry: (error, attempt, delayMs) => seen.push(`${(error as Error).message} #${attempt} +${delayMs}`),
    });
    expect(seen).toEqual(['failure 1 #1 +100', 'failure 2 #2 +200']);
  });

  it('stops waiting and starts no further attempt once aborted, rejecting with the abort reason', async () => {
    const controller = new AbortController();
    const { attempts, operation } = failingTimes(Infinity, 'never');
    const stopped = new Error('shutting down');
    const running = retry(operation, {
      initialMs: 3_600_000,
      maxMs: 3_600_000,
      signal: controller.signal,
      onRetry: () => controller.abort(stopped),
    });
    await expect(running).rejects.toBe(stopped);
    expect(attempts).toEqual([1]);
  });

  it('lets an attempt in flight finish when aborted, then stops', async () => {
    const controller = new AbortController();
    const attempts: number[] = [];
    const running = retry(
      async (attempt) => {
        attempts.push(attempt);
        controller.abort(new Error('stop'));
        throw new Error('failed while stopping');
      },
      { ...schedule, signal: controller.signal, sleep: recordingSleep().sleep },
    );
    await expect(running).rejects.toThrow('stop');
    expect(attempts).toEqual([1]);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('already stopped'));
    const { attempts, operation } = failingTimes(0, 'ok');
    await expect(retry(operation, { ...schedule, signal: controller.signal })).rejects.toThrow('already stopped');
    expect(attempts).toEqual([]);
  });
});

describe('wait', () => {
  it('rejects with the abort reason as soon as the signal is aborted', async () => {
    const controller = new AbortController();
    const waiting = wait(3_600_000, controller.signal, true);
    const reason = new Error('closed');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});
