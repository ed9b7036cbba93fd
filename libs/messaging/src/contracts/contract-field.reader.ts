// Reads and checks the fields of an untrusted decoded message for the contract validators.
// Kept dependency-free on purpose: validators run on every message in every service.

import { ContractError } from './contract.error';

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Wraps one raw payload; every getter throws a ContractError naming the field when it is wrong. */
export class ContractFieldReader {
  private readonly record: Record<string, unknown>;

  constructor(
    private readonly contract: string,
    raw: unknown,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ContractError(contract, '(payload)', 'must be a JSON object');
    }
    this.record = raw as Record<string, unknown>;
  }

  fail(field: string, problem: string): never {
    throw new ContractError(this.contract, field, problem);
  }

  version<V extends number>(expected: V): V {
    const value = this.record['v'];
    if (value !== expected) {
      this.fail('v', `must be ${expected} (got ${JSON.stringify(value) ?? 'undefined'})`);
    }
    return expected;
  }

  string(field: string, maxLength = 1024): string {
    const value = this.record[field];
    if (typeof value !== 'string' || value.length === 0) {
      this.fail(field, 'must be a non-empty string');
    }
    if (value.length > maxLength) {
      this.fail(field, `must be at most ${maxLength} characters`);
    }
    return value;
  }

  optionalString(field: string, maxLength = 1024): string | undefined {
    return this.record[field] === undefined ? undefined : this.string(field, maxLength);
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.record[field];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(field, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value) ?? 'undefined'})`);
    }
    return value as T;
  }

  number(field: string, options: { min?: number; integer?: boolean } = {}): number {
    const value = this.record[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.fail(field, 'must be a finite number');
    }
    if (options.integer && !Number.isInteger(value)) {
      this.fail(field, 'must be an integer');
    }
    if (options.min !== undefined && value < options.min) {
      this.fail(field, `must be >= ${options.min}`);
    }
    return value;
  }

  optionalNumber(field: string, options: { min?: number; integer?: boolean } = {}): number | undefined {
    return this.record[field] === undefined ? undefined : this.number(field, options);
  }

  /** An ISO 8601 timestamp with an explicit zone, e.g. `2025-01-31T12:00:00.000Z`. */
  timestamp(field: string): string {
    const value = this.string(field, 64);
    if (!ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
      this.fail(field, `must be an ISO 8601 timestamp with a zone (got "${value}")`);
    }
    return value;
  }

  /** A non-negative integer written as a decimal string (for values beyond 2^53, like nanoseconds). */
  decimalString(field: string): string {
    const value = this.string(field, 40);
    if (!/^(0|[1-9]\d*)$/.test(value)) {
      this.fail(field, `must be a non-negative integer written as a decimal string (got "${value}")`);
    }
    return value;
  }

  object(field: string): Record<string, unknown> {
    const value = this.record[field];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(field, 'must be a JSON object');
    }
    return value as Record<string, unknown>;
  }

  optionalObject(field: string): Record<string, unknown> | undefined {
    return this.record[field] === undefined ? undefined : this.object(field);
  }

  /** Any JSON value that is present (null allowed). */
  present(field: string): unknown {
    if (!(field in this.record) || this.record[field] === undefined) {
      this.fail(field, 'is required');
    }
    return this.record[field];
  }
}
