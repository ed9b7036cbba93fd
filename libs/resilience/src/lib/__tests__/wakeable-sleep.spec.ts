import { WakeableSleep } from '../wakeable-sleep';

describe('WakeableSleep', () => {
  it('ends a long wait as soon as wake() is called', async () => {
    const sleeper = new WakeableSleep();
    let over = false;
    const waiting = sleeper.sleep(3_600_000).then(() => (over = true));
    await Promise.resolve();
    expect(over).toBe(false);
    sleeper.wake();
    await waiting;
    expect(over).toBe(true);
  });

  it('does nothing when woken with no wait in progress, and the next wait is not cut short by it', async () => {
    const sleeper = new WakeableSleep();
    sleeper.wake();
    let over = false;
    const waiting = sleeper.sleep(3_600_000).then(() => (over = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(over).toBe(false);
    sleeper.wake();
    await waiting;
  });
});
