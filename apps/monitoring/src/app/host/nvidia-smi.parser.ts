// Parses `nvidia-smi --query-gpu=<NVIDIA_SMI_FIELDS> --format=csv,noheader,nounits`: one line per GPU, values in
// the queried order, MiB for memory, W for power, °C for temperature, `[N/A]` / `[Not Supported]` when a GPU
// cannot report a value (such a value is left out rather than reported as 0).

export const NVIDIA_SMI_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'ecc.errors.uncorrected.volatile.total',
] as const;

export function nvidiaSmiArgs(): string[] {
  return [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
}

export interface GpuSample {
  index: number;
  uuid: string;
  name: string;
  utilizationRatio?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerWatts?: number;
  eccUncorrectedErrors?: number;
  /** NVML only (not among the nvidia-smi fields queried). */
  eccCorrectedErrors?: number;
}

const MIB = 1024 * 1024;

export class NvidiaSmiParseError extends Error {}

export function parseNvidiaSmiCsv(text: string): GpuSample[] {
  const samples: GpuSample[] = [];
  text.split('\n').forEach((raw, lineIndex) => {
    const line = raw.trim();
    if (line === '') return;
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length < NVIDIA_SMI_FIELDS.length) {
      throw new NvidiaSmiParseError(
        `nvidia-smi line ${lineIndex + 1} has ${cells.length} fields, expected ${NVIDIA_SMI_FIELDS.length}: ${line}`,
      );
    }
    // Only the name is free text and may itself contain commas: take the fixed fields from both ends.
    const tail = cells.slice(cells.length - 6);
    const index = Number(cells[0]);
    if (!Number.isInteger(index) || index < 0)
      throw new NvidiaSmiParseError(`nvidia-smi line ${lineIndex + 1}: bad GPU index "${cells[0]}"`);
    const sample: GpuSample = { index, uuid: cells[1], name: cells.slice(2, cells.length - 6).join(', ') };
    const [utilization, memoryUsed, memoryTotal, temperature, power, ecc] = tail.map(numberOrUndefined);
    if (utilization !== undefined) sample.utilizationRatio = utilization / 100;
    if (memoryUsed !== undefined) sample.memoryUsedBytes = memoryUsed * MIB;
    if (memoryTotal !== undefined) sample.memoryTotalBytes = memoryTotal * MIB;
    if (temperature !== undefined) sample.temperatureCelsius = temperature;
    if (power !== undefined) sample.powerWatts = power;
    if (ecc !== undefined) sample.eccUncorrectedErrors = ecc;
    samples.push(sample);
  });
  return samples;
}

/** A number, or undefined for nvidia-smi's `[N/A]`, `[Not Supported]`, `N/A` and the like. */
function numberOrUndefined(cell: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(cell)) return undefined;
  return Number(cell);
}
