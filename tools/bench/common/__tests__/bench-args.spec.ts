import { BenchArgs } from '../bench-args';

const spec = { values: ['clients', 'type', 'batches', 'weights', 'bandwidth', 'duration'], flags: ['serve'] };

describe('BenchArgs', () => {
  it('reads declared options and falls back to the defaults for the rest', () => {
    const args = new BenchArgs('bench-x', ['--clients', '8', '--type', 'Q8_0', '--serve'], spec);
    expect(args.int('clients', 50)).toBe(8);
    expect(args.string('type', 'F16')).toBe('Q8_0');
    expect(args.flag('serve')).toBe(true);
    expect(args.intList('batches', [1, 4], 1)).toEqual([1, 4]);
    expect(args.number('duration', 60)).toBe(60);
  });

  it('parses lists, choices and fractional numbers', () => {
    const args = new BenchArgs(
      'bench-x',
      ['--batches', '1,16,50', '--weights', 'copy,mmap', '--bandwidth', '12.5', '--duration', '0.5'],
      spec,
    );
    expect(args.intList('batches', [], 1)).toEqual([1, 16, 50]);
    expect(args.listOf('weights', ['copy'], ['copy', 'mmap'] as const)).toEqual(['copy', 'mmap']);
    expect(args.number('bandwidth', 0, 0, true)).toBe(12.5);
    expect(args.number('duration', 60)).toBe(0.5);
  });

  it('stops at an unknown or incomplete option, naming the benchmark', () => {
    expect(() => new BenchArgs('bench-x', ['--client', '8'], spec)).toThrow("bench-x: unknown argument '--client'");
    expect(() => new BenchArgs('bench-x', ['--clients'], spec)).toThrow('bench-x: --clients needs a value');
    expect(() => new BenchArgs('bench-x', ['8'], spec)).toThrow("bench-x: unknown argument '8'");
  });

  it('refuses a value outside what the option wants', () => {
    const args = new BenchArgs('bench-x', ['--clients', '2.5', '--weights', 'disk', '--bandwidth', '0'], spec);
    expect(() => args.int('clients', 1, 1)).toThrow("bench-x: --clients wants a whole number >= 1, got '2.5'");
    expect(() => args.oneOf('weights', 'copy', ['copy', 'mmap'] as const)).toThrow(
      "bench-x: --weights wants copy or mmap, got 'disk'",
    );
    expect(() => args.number('bandwidth', 1, 0, true)).toThrow("bench-x: --bandwidth wants a number > 0, got '0'");
  });
});
