// Helpers shared by the TypeScript engine benchmarks.
import { loadavg } from 'node:os';

/** The 1/5/15-minute load average, printed beside every figure because the machine may be shared. */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}
