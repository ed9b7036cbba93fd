// Decorators for environment-variable classes: each one gives a single, operator-readable message
// ("must be an integer 1-65535") instead of class-validator's developer-facing defaults.
import { Transform } from 'class-transformer';
import { ValidateBy, ValidationOptions } from 'class-validator';

const secretVariables = new WeakMap<object, Set<string>>();

/** Marks a variable whose value must never be echoed in an error message (it may carry a password). */
export function SecretVariable(): PropertyDecorator {
  return (target, propertyKey) => {
    const names = secretVariables.get(target.constructor) ?? new Set<string>();
    names.add(String(propertyKey));
    secretVariables.set(target.constructor, names);
  };
}

export function isSecretVariable(envClass: object, variable: string): boolean {
  return secretVariables.get(envClass)?.has(variable) ?? false;
}

/** Parses a decimal integer strictly: "3101" → 3101; "31o1", "3.5", "0x10" → NaN so validation reports them. */
export function ToInteger(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    const trimmed = value.trim();
    return /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  });
}

export function IsIntegerInRange(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIntegerInRange',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
        defaultMessage: () => `must be an integer ${min}-${max}`,
      },
    },
    options,
  );
}

export function IsOneOf(allowed: readonly string[], options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isOneOf',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && allowed.includes(value),
        defaultMessage: () => `must be one of ${allowed.join(', ')}`,
      },
    },
    options,
  );
}

/** A URL whose scheme is one of `schemes` (e.g. ['nats:']) and that names a host. */
export function IsUrlWithScheme(schemes: readonly string[], options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUrlWithScheme',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string' || !URL.canParse(value)) return false;
          const url = new URL(value);
          return schemes.includes(url.protocol) && url.hostname !== '';
        },
        defaultMessage: () => `must be a ${schemes.map((scheme) => `${scheme}//`).join(' or ')} URL with a host`,
      },
    },
    options,
  );
}

export function IsAbsolutePath(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAbsolutePath',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && value.startsWith('/') && !value.includes('\0'),
        defaultMessage: () => 'must be an absolute path',
      },
    },
    options,
  );
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV6_IN_BRACKETS = /^\[[0-9a-f:.]+\]$/i;

/** A bind address: an IPv4/IPv6 address or a host name (no scheme, no port). */
export function IsBindHost(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBindHost',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && (HOSTNAME.test(value) || (/^[0-9a-f:.]+$/i.test(value) && value.includes(':'))),
        defaultMessage: () => 'must be an IP address or host name to bind to (no scheme, no port)',
      },
    },
    options,
  );
}

/** Why an egress allowlist entry is malformed, or undefined when it is a valid `host` or `host:port`. */
export function egressEntryProblem(entry: string): string | undefined {
  const match = /^(\[[^\]]*\]|[^:]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!match) return `entry "${entry}" must be host or host:port (no scheme, path or wildcard)`;
  const [, host, port] = match;
  if (!(HOSTNAME.test(host) || IPV6_IN_BRACKETS.test(host))) {
    return `entry "${entry}" must be host or host:port (no scheme, path or wildcard)`;
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    return `entry "${entry}" has a port outside 1-65535`;
  }
  return undefined;
}

/** The literal that means "allow no outside host at all" (an empty value means "use the default list"). */
export const EGRESS_ALLOWLIST_NONE = 'none';

export function IsEgressAllowlist(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEgressAllowlist',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          (value.trim() === EGRESS_ALLOWLIST_NONE ||
            splitAllowlist(value).every((entry) => !egressEntryProblem(entry))),
        defaultMessage: (args) => {
          const value = typeof args?.value === 'string' ? args.value : '';
          const problems = splitAllowlist(value)
            .map(egressEntryProblem)
            .filter((problem): problem is string => problem !== undefined);
          return `must be a comma-separated list of host or host:port entries, or "${EGRESS_ALLOWLIST_NONE}"${
            problems.length > 0 ? ` (${problems.join('; ')})` : ''
          }`;
        },
      },
    },
    options,
  );
}

export function splitAllowlist(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
}
