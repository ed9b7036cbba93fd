// Reads the host's CPU, memory, load and the disk use of the file system holding $SOVREN_ROOT.
import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export interface CpuTimes {
  idle: number;
  total: number;
}

export interface HostSample {
  cpuUsageRatio?: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  load: [number, number, number];
  disk?: { path: string; sizeBytes: number; freeBytes: number; availableBytes: number; usedRatio: number };
}

export function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq + cpu.times.idle;
  }
  return { idle, total };
}

/** Share of CPU time spent busy between two readings (undefined when no time passed). */
export function cpuUsageBetween(before: CpuTimes, after: CpuTimes): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  return Math.min(1, Math.max(0, 1 - (after.idle - before.idle) / total));
}

/** `MemAvailable` from /proc/meminfo text, in bytes (undefined when the kernel does not report it). */
export function memAvailableFromMeminfo(text: string): number | undefined {
  const match = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

export async function memoryAvailableBytes(): Promise<number> {
  try {
    return memAvailableFromMeminfo(await readFile('/proc/meminfo', 'utf8')) ?? freemem();
  } catch {
    // Not Linux (no /proc): the free memory the OS reports is the best figure there is.
    return freemem();
  }
}

/** Size and use of the file system holding `path` (statfs); `usedRatio` is what `df` shows as Use%. */
export async function diskUse(path: string): Promise<NonNullable<HostSample['disk']>> {
  const stats = await statfs(path);
  const sizeBytes = stats.blocks * stats.bsize;
  const freeBytes = stats.bfree * stats.bsize;
  const availableBytes = stats.bavail * stats.bsize;
  const usedBytes = sizeBytes - freeBytes;
  const usedRatio = usedBytes + availableBytes > 0 ? usedBytes / (usedBytes + availableBytes) : 0;
  return { path, sizeBytes, freeBytes, availableBytes, usedRatio };
}

export function hostMemoryTotalBytes(): number {
  return totalmem();
}

export function hostLoad(): [number, number, number] {
  const [one, five, fifteen] = loadavg();
  return [one, five, fifteen];
}
