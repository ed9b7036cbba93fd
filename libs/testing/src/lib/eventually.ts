// `eventually()`: the one way tests wait for something that happens asynchronously (a row written by a consumer,
// a model finishing its load, a server answering). It asks `probe` again until it gives a value, and fails with
// what it was waiting for, the last error the probe threw and any detail the caller adds.
import { errorMessage } from '@sovren/resilience';

export interface EventuallyOptions {
  /** How long to keep asking (default 10 s). */
  timeoutMs?: number;
  /** Pause between two questions (default 100 ms). */
  intervalMs?: number;
  /** More to say when it times out (a child process's log tail, the state last seen). */
  detail?: () => string;
}

/** Thrown by a probe when waiting longer cannot help (the process it waits for has exited): fails at once. */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

/** A probe's "not yet": `undefined`, `null` or `false`. Anything else is the value waited for. */
export type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/**
 * Resolves with the first value of `probe` that is not `undefined`, `null` or `false`. A probe that throws counts
 * as "not yet" (a server still starting refuses connections); the last error is named if time runs out. A probe
 * that throws StopWaiting ends the wait at once with that error.
 */
export async function eventually<T>(what: string, probe: Probe<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${errorText(lastError)})`;
      const detail = options.detail ? `\n${options.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function errorText(error: unknown): string {
  return errorMessage(error);
}
