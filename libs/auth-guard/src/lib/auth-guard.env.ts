// The guard's own environment, read by every service at start-up: which reverse proxies may say who the client
// is (SOVREN_TRUSTED_PROXIES) and which browser origins may send cookie-authenticated writes
// (SOVREN_PUBLIC_ORIGINS). A bad value stops start-up naming the variable, like every other setting.
import { loadEnvConfig } from '@sovren/config';
import { ValidateBy } from 'class-validator';
import { isIP } from 'node:net';

/** Why a trusted-proxy entry is malformed, or undefined for an IPv4/IPv6 address or CIDR block. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (extra !== undefined || family === 0) return `"${entry}" is not an IP address or CIDR block`;
  if (prefix === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return `"${entry}" has a prefix outside 0-${bits}`;
  return undefined;
}

/** Why a public origin is malformed, or undefined for `scheme://host[:port]` (no path). */
export function publicOriginProblem(entry: string): string | undefined {
  if (!URL.canParse(entry)) return `"${entry}" is not an origin like https://sovren.example.com`;
  const url = new URL(entry);
  if (!['http:', 'https:'].includes(url.protocol) || url.origin !== entry.replace(/\/$/, '')) {
    return `"${entry}" must be scheme://host[:port] with no path`;
  }
  return undefined;
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function IsListOf(problemOf: (entry: string) => string | undefined, what: string): PropertyDecorator {
  return ValidateBy({
    name: 'isListOf',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' && (value.trim() === 'none' || splitList(value).every((e) => !problemOf(e))),
      defaultMessage: (args) => {
        const value = typeof args?.value === 'string' ? args.value : '';
        const problems = splitList(value)
          .map(problemOf)
          .filter((problem): problem is string => problem !== undefined);
        return `must be a comma-separated list of ${what}, or "none" (${problems.join('; ')})`;
      },
    },
  });
}

export class AuthGuardEnv {
  /**
   * Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed: only when the direct peer is
   * one of them does the client address become the rightmost X-Forwarded-For hop that is not. Default none.
   */
  @IsListOf(trustedProxyProblem, 'IP addresses or CIDR blocks')
  SOVREN_TRUSTED_PROXIES = 'none';

  /**
   * Origins browsers reach the platform at (e.g. `https://sovren.example.com`): a cookie-authenticated write
   * must come from one of them, from the origin of its own Host, or say `Sec-Fetch-Site: same-origin`.
   */
  @IsListOf(publicOriginProblem, 'origins (scheme://host[:port])')
  SOVREN_PUBLIC_ORIGINS = 'none';
}

export interface AuthGuardSettings {
  trustedProxies: string[];
  publicOrigins: string[];
}

export const AUTH_GUARD_SETTINGS = Symbol('AUTH_GUARD_SETTINGS');

/** Throws ConfigValidationError naming a bad SOVREN_TRUSTED_PROXIES / SOVREN_PUBLIC_ORIGINS. */
export function loadAuthGuardSettings(env: NodeJS.ProcessEnv = process.env): AuthGuardSettings {
  const loaded = loadEnvConfig(AuthGuardEnv, env);
  const list = (value: string) => (value.trim() === 'none' ? [] : splitList(value));
  return {
    trustedProxies: list(loaded.SOVREN_TRUSTED_PROXIES),
    publicOrigins: list(loaded.SOVREN_PUBLIC_ORIGINS).map((origin) => new URL(origin).origin),
  };
}
