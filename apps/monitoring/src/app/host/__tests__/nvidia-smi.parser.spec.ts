import { nvidiaSmiArgs, parseNvidiaSmiCsv } from '../nvidia-smi.parser';

// Text in the layout nvidia-smi prints for --query-gpu=<fields> --format=csv,noheader,nounits: a datacenter GPU
// reporting every field, one that cannot report power or ECC, and a consumer card whose name has a comma.
const OUTPUT = `0, GPU-6f1a2b3c-0000-1111-2222-333344445555, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 0
1, GPU-7a8b9c0d-6666-7777-8888-999900001111, NVIDIA H100 80GB HBM3, 0, 4, 81559, 33, [N/A], [N/A]
2, GPU-11112222-3333-4444-5555-666677778888, NVIDIA GeForce RTX 4090, Founders, 100, 24000, 24564, 86, 447.20, [Not Supported]
`;

describe('parseNvidiaSmiCsv', () => {
  it('queries the fields the parser reads, without header or units', () => {
    expect(nvidiaSmiArgs()).toEqual([
      '--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,ecc.errors.uncorrected.volatile.total',
      '--format=csv,noheader,nounits',
    ]);
  });

  it('reads one sample per GPU in base units, leaving out values the GPU cannot report', () => {
    const [h100, idle, rtx] = parseNvidiaSmiCsv(OUTPUT);
    expect(h100).toEqual({
      index: 0,
      uuid: 'GPU-6f1a2b3c-0000-1111-2222-333344445555',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 0.37,
      memoryUsedBytes: 10240 * 1024 * 1024,
      memoryTotalBytes: 81559 * 1024 * 1024,
      temperatureCelsius: 45,
      powerWatts: 119.85,
      eccUncorrectedErrors: 0,
    });
    expect(idle).toEqual({
      index: 1,
      uuid: 'GPU-7a8b9c0d-6666-7777-8888-999900001111',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 0,
      memoryUsedBytes: 4 * 1024 * 1024,
      memoryTotalBytes: 81559 * 1024 * 1024,
      temperatureCelsius: 33,
    });
    expect(rtx.name).toBe('NVIDIA GeForce RTX 4090, Founders');
    expect(rtx.utilizationRatio).toBe(1);
    expect(rtx.eccUncorrectedErrors).toBeUndefined();
  });

  it('returns no GPUs for empty output', () => {
    expect(parseNvidiaSmiCsv('\n')).toEqual([]);
  });

  it('names the line of malformed output', () => {
    expect(() => parseNvidiaSmiCsv('0, GPU-x, H100, 37\n')).toThrow(/line 1 has 4 fields, expected 9/);
    expect(() => parseNvidiaSmiCsv('x, GPU-x, H100, 1, 2, 3, 4, 5, 6\n')).toThrow(/bad GPU index "x"/);
  });
});
