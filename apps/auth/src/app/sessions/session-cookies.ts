// The browser side of a session: HttpOnly, Secure cookies (SameSite from config). The access cookie goes to
// every path; the refresh cookie only to /api/v1/auth, so it never travels with ordinary API calls.
import { ACCESS_COOKIE, DEVICE_COOKIE, REFRESH_COOKIE } from '@sovren/auth-guard';
import type { ServerResponse } from 'node:http';

import type { CookieSameSite } from '../auth-config/auth-config';
import type { IssuedTokens } from './session.service';

export const AUTH_COOKIE_PATH = '/api/v1/auth';
const DEVICE_COOKIE_MAX_AGE_S = 5 * 365 * 86_400;

function cookie(name: string, value: string, path: string, maxAgeSeconds: number, sameSite: CookieSameSite): string {
  return `${name}=${encodeURIComponent(value)}; Path=${path}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=${sameSite}`;
}

function append(res: ServerResponse, values: string[]): void {
  const existing = res.getHeader('Set-Cookie');
  const current = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...current, ...values]);
}

export function setSessionCookies(
  res: ServerResponse,
  tokens: IssuedTokens,
  sameSite: CookieSameSite,
  now = Date.now(),
): void {
  append(res, [
    cookie(ACCESS_COOKIE, tokens.accessToken, '/', (tokens.accessExpiresAt - now) / 1000, sameSite),
    cookie(REFRESH_COOKIE, tokens.refreshToken, AUTH_COOKIE_PATH, (tokens.refreshExpiresAt - now) / 1000, sameSite),
  ]);
}

export function clearSessionCookies(res: ServerResponse, sameSite: CookieSameSite): void {
  append(res, [cookie(ACCESS_COOKIE, '', '/', 0, sameSite), cookie(REFRESH_COOKIE, '', AUTH_COOKIE_PATH, 0, sameSite)]);
}

/** A long-lived random device id, so a sign-in from a new device can be told apart (security notice). */
export function setDeviceCookie(res: ServerResponse, deviceId: string, sameSite: CookieSameSite): void {
  append(res, [cookie(DEVICE_COOKIE, deviceId, '/', DEVICE_COOKIE_MAX_AGE_S, sameSite)]);
}
