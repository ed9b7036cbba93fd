// Where a request carries its credential: `Authorization: Bearer <token or key>`, `X-API-Key: <key>`, or the
// `sovren_access` session cookie set by auth at login. The first one present wins, in that order.
import type { IncomingMessage } from 'node:http';

export const ACCESS_COOKIE = 'sovren_access';
export const REFRESH_COOKIE = 'sovren_refresh';
export const DEVICE_COOKIE = 'sovren_device';

/** Reads one cookie from a Cookie header (no dependency: the format is `a=b; c=d`). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        // A malformed %-escape is not a credential we issued; treat the cookie as absent.
        return undefined;
      }
    }
  }
  return undefined;
}

export function requestCredential(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+/i.test(authorization)) {
    const token = authorization.replace(/^bearer\s+/i, '').trim();
    if (token !== '') return token;
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  return readCookie(req, ACCESS_COOKIE);
}

/** The client address as Express computed it (honours `trust proxy` when the app sets it). */
export function requestClientIp(req: IncomingMessage & { ip?: string }): string {
  const raw = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  return raw.startsWith('::ffff:') ? raw.slice('::ffff:'.length) : raw;
}
