// HTTP digest authentication for SIP (RFC 2617 / RFC 8760 MD5 and SHA-256): answering 401/407 challenges.
import { createHash, randomBytes } from 'node:crypto';

import { SipParseError } from './sip-message';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | null;
  algorithm: 'MD5' | 'SHA-256';
  qop: string[];
  stale: boolean;
}

export function parseDigestChallenge(value: string): DigestChallenge {
  const match = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!match) throw new SipParseError('not a Digest challenge');
  const params = parseAuthParams(match[1]);
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) throw new SipParseError('Digest challenge lacks realm or nonce');
  const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') throw new SipParseError(`unsupported digest algorithm`);
  return {
    realm,
    nonce,
    opaque: params.get('opaque') ?? null,
    algorithm,
    qop: (params.get('qop') ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter(Boolean),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,|$)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(text)) !== null) {
    params.set(match[1].toLowerCase(), match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]);
    consumed = re.lastIndex;
    if (params.size > 32) throw new SipParseError('too many auth parameters');
  }
  if (text.slice(consumed).trim().length > 0) throw new SipParseError('malformed auth parameters');
  return params;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

function hash(algorithm: DigestChallenge['algorithm'], text: string): string {
  return createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5')
    .update(text, 'utf8')
    .digest('hex');
}

/** Builds the Authorization / Proxy-Authorization value answering `challenge` for one request. */
export function buildDigestAuthorization(
  challenge: DigestChallenge,
  credentials: DigestCredentials,
  method: string,
  uri: string,
  nonceCount = 1,
  cnonce = randomBytes(8).toString('hex'),
): string {
  const ha1 = hash(challenge.algorithm, `${credentials.username}:${challenge.realm}:${credentials.password}`);
  const ha2 = hash(challenge.algorithm, `${method}:${uri}`);
  const useQop = challenge.qop.includes('auth');
  const nc = nonceCount.toString(16).padStart(8, '0');
  const response = useQop
    ? hash(challenge.algorithm, `${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`)
    : hash(challenge.algorithm, `${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username="${credentials.username}"`,
    `realm="${challenge.realm}"`,
    `nonce="${challenge.nonce}"`,
    `uri="${uri}"`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (challenge.opaque !== null) parts.push(`opaque="${challenge.opaque}"`);
  if (useQop) parts.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  return `Digest ${parts.join(', ')}`;
}

/** Server side (tests and stand-ins): checks an Authorization value against the expected credentials. */
export function verifyDigestAuthorization(
  value: string,
  credentials: DigestCredentials,
  method: string,
  realm: string,
  nonce: string,
): boolean {
  const match = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!match) return false;
  const p = parseAuthParams(match[1]);
  if (p.get('username') !== credentials.username || p.get('realm') !== realm || p.get('nonce') !== nonce) return false;
  const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5';
  const ha1 = hash(algorithm, `${credentials.username}:${realm}:${credentials.password}`);
  const ha2 = hash(algorithm, `${method}:${p.get('uri') ?? ''}`);
  const expected =
    p.get('qop') === 'auth'
      ? hash(algorithm, `${ha1}:${nonce}:${p.get('nc') ?? ''}:${p.get('cnonce') ?? ''}:auth:${ha2}`)
      : hash(algorithm, `${ha1}:${nonce}:${ha2}`);
  return p.get('response') === expected;
}
