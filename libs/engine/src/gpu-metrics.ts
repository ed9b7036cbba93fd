// GPU readings through NVML, from the native addon's gpuMetrics(): the addon dlopen()s libnvidia-ml at run time
// (or $SOVREN_NVML_LIBRARY), so this answers "not available" with a reason on a host without an NVIDIA driver —
// and also when the addon itself cannot be loaded — instead of throwing.
import { errorMessage } from '@sovren/resilience';

import { loadEngineAddon } from './engine';

export interface NvmlGpu {
  index: number;
  name: string;
  uuid: string;
  /** Each reading is absent when the GPU or driver cannot report it. */
  utilizationPercent?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerWatts?: number;
  /** Volatile ECC counts (since the driver loaded). */
  eccCorrectedErrors?: number;
  eccUncorrectedErrors?: number;
  /** Set when the GPU could not be read at all. */
  error?: string;
}

export type NvmlGpuMetrics = { available: true; gpus: NvmlGpu[] } | { available: false; reason: string };

interface GpuMetricsAddon {
  gpuMetrics?: () => Promise<NvmlGpuMetrics>;
}

/** Every GPU's NVML readings, or why NVML cannot be used here. Never rejects. */
export async function readNvmlGpuMetrics(loadAddon: () => unknown = loadEngineAddon): Promise<NvmlGpuMetrics> {
  let addon: GpuMetricsAddon;
  try {
    addon = loadAddon() as GpuMetricsAddon;
  } catch (error) {
    return {
      available: false,
      reason: `NVML not available: ${errorMessage(error)}`,
    };
  }
  if (typeof addon.gpuMetrics !== 'function') {
    return {
      available: false,
      reason: 'NVML not available: the native engine predates gpuMetrics(); rebuild it (npx nx run native:build)',
    };
  }
  try {
    return await addon.gpuMetrics();
  } catch (error) {
    return {
      available: false,
      reason: `NVML not available: ${errorMessage(error)}`,
    };
  }
}
