import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cpuUsageBetween, diskUse, memAvailableFromMeminfo } from '../host-metrics.sampler';

describe('host metrics sampler', () => {
  it('computes CPU busy share between two readings', () => {
    expect(cpuUsageBetween({ idle: 100, total: 200 }, { idle: 130, total: 300 })).toBeCloseTo(0.7);
    expect(cpuUsageBetween({ idle: 100, total: 200 }, { idle: 100, total: 200 })).toBeUndefined();
  });

  it('reads MemAvailable from /proc/meminfo text', () => {
    expect(
      memAvailableFromMeminfo(
        'MemTotal:       16384000 kB\nMemFree:          512000 kB\nMemAvailable:    8192000 kB\n',
      ),
    ).toBe(8192000 * 1024);
    expect(memAvailableFromMeminfo('MemTotal: 1 kB\n')).toBeUndefined();
  });

  it('reads the size and use of the file system holding a directory (statfs)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sovren-disk-'));
    try {
      const disk = await diskUse(dir);
      expect(disk.path).toBe(dir);
      expect(disk.sizeBytes).toBeGreaterThan(0);
      expect(disk.availableBytes).toBeLessThanOrEqual(disk.freeBytes);
      expect(disk.usedRatio).toBeGreaterThan(0);
      expect(disk.usedRatio).toBeLessThanOrEqual(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the path when it does not exist', async () => {
    await expect(diskUse('/no/such/sovren/root')).rejects.toThrow(/no\/such\/sovren\/root/);
  });
});
