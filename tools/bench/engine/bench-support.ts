// Helpers shared by the TypeScript engine benchmarks.
import { loadavg } from 'node:os';

import { TensorType } from '@sovren/engine';

/** The 1/5/15-minute load average, printed beside every figure because the machine may be shared. */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

/** A GGUF tensor type by its name ("F16", "Q8_0", ...); `tool` names the benchmark in the error. */
export function typeByName(name: string, tool: string): TensorType {
  const type = (TensorType as unknown as Record<string, TensorType | undefined>)[name];
  if (type === undefined) throw new Error(`${tool}: unknown tensor type '${name}'`);
  return type;
}
