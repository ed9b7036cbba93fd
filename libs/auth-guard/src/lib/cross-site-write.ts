// CSRF defence for cookie sessions: a browser attaches the session cookie to a form or fetch another site sends,
// so a write (POST/PUT/PATCH/DELETE) that authenticates by cookie must show it comes from our own pages —
// `Sec-Fetch-Site: same-origin`, or an Origin that is one of SOVREN_PUBLIC_ORIGINS or the origin of the request's
// own Host. Requests with `Authorization: Bearer` or `X-API-Key` are exempt: no other site can make a browser send
// those headers (not without a CORS preflight this platform never grants).
import type { IncomingMessage } from 'node:http';

import { ACCESS_COOKIE, readCookie, REFRESH_COOKIE } from './request-credential';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether the request can only be authenticated by a session cookie (no bearer token, no API key header). */
export function isCookieAuthenticated(req: IncomingMessage): boolean {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+\S/i.test(authorization)) return false;
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return false;
  return readCookie(req, ACCESS_COOKIE) !== undefined || readCookie(req, REFRESH_COOKIE) !== undefined;
}

/** Why this request is a cross-site write riding on a session cookie, or undefined when it is fine. */
export function crossSiteWriteProblem(req: IncomingMessage, publicOrigins: readonly string[]): string | undefined {
  if (!WRITE_METHODS.has((req.method ?? 'GET').toUpperCase()) || !isCookieAuthenticated(req)) return undefined;
  if (req.headers['sec-fetch-site'] === 'same-origin') return undefined;
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === '' || origin === 'null') {
    return 'a cookie-authenticated write must carry a same-origin Origin header (or Sec-Fetch-Site: same-origin)';
  }
  if (publicOrigins.includes(origin)) return undefined;
  if (URL.canParse(origin) && req.headers.host !== undefined && new URL(origin).host === req.headers.host) {
    return undefined;
  }
  return `a cookie-authenticated write from origin ${origin} is refused: not one of this platform's origins`;
}
