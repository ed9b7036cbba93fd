// The one command-line parser of the benchmarks: `--name value` options and bare `--flag`s, checked against what
// the benchmark declares, so a mistyped option stops the run instead of silently measuring the defaults.

export interface BenchArgsSpec {
  /** Options that take a value (`--clients 50`), without the dashes. */
  values: readonly string[];
  /** Options that take none (`--serve`). */
  flags?: readonly string[];
}

export class BenchArgs {
  private readonly given = new Map<string, string>();
  private readonly set = new Set<string>();

  /** `tool` names the benchmark in error messages; `argv` is process.argv.slice(2). */
  constructor(
    private readonly tool: string,
    argv: readonly string[],
    spec: BenchArgsSpec,
  ) {
    for (let i = 0; i < argv.length; i += 1) {
      const arg = argv[i];
      const name = arg.startsWith('--') ? arg.slice(2) : '';
      if (spec.flags?.includes(name)) {
        this.set.add(name);
      } else if (spec.values.includes(name)) {
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`${tool}: ${arg} needs a value`);
        this.given.set(name, value);
        i += 1;
      } else {
        throw new Error(`${tool}: unknown argument '${arg}'`);
      }
    }
  }

  /** Whether an option that takes a value was given. */
  has(name: string): boolean {
    return this.given.has(name);
  }

  /** Whether a bare flag was given. */
  flag(name: string): boolean {
    return this.set.has(name);
  }

  string(name: string, fallback: string): string {
    return this.given.get(name) ?? fallback;
  }

  /** A whole number >= min (default 0). */
  int(name: string, fallback: number, min = 0): number {
    const raw = this.given.get(name);
    return raw === undefined ? fallback : this.toInt(name, raw, min);
  }

  /** A finite number >= min (default 0); `above` makes the bound exclusive. */
  number(name: string, fallback: number, min = 0, above = false): number {
    const raw = this.given.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || (above && n === min)) {
      throw new Error(`${this.tool}: --${name} wants a number ${above ? '>' : '>='} ${min}, got '${raw}'`);
    }
    return n;
  }

  /** A comma-separated list (empty items dropped). */
  list(name: string, fallback: readonly string[]): string[] {
    const raw = this.given.get(name);
    return raw === undefined ? [...fallback] : raw.split(',').filter((item) => item.length > 0);
  }

  /** A comma-separated list of whole numbers >= min. */
  intList(name: string, fallback: readonly number[], min = 0): number[] {
    const raw = this.given.get(name);
    return raw === undefined ? [...fallback] : raw.split(',').map((item) => this.toInt(name, item, min));
  }

  /** One of `allowed`. */
  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.given.get(name);
    if (raw === undefined) return fallback;
    return this.check(name, raw, allowed);
  }

  /** A comma-separated list whose items are each one of `allowed`. */
  listOf<T extends string>(name: string, fallback: readonly T[], allowed: readonly T[]): T[] {
    const raw = this.given.get(name);
    return raw === undefined ? [...fallback] : raw.split(',').map((item) => this.check(name, item, allowed));
  }

  private toInt(name: string, raw: string, min: number): number {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`${this.tool}: --${name} wants a whole number >= ${min}, got '${raw}'`);
    }
    return n;
  }

  private check<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new Error(`${this.tool}: --${name} wants ${allowed.join(' or ')}, got '${raw}'`);
    }
    return raw as T;
  }
}
