// The pair a refresh issued, sealed under the refresh token it replaced, so that the same token presented again
// within the grace window (a second tab refreshing at the same moment) gets that pair back. The key is derived
// from the old refresh token itself (HKDF-SHA-256), which is never stored — only its SHA-256 is — so the sealed
// pair in api_auth.db opens only for someone who holds that token anyway; AES-256-GCM refuses a tampered row.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import type { IssuedTokens } from './session.service';

const INFO = 'sovren refresh grace v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyOf(refreshToken: string): Buffer {
  return Buffer.from(hkdfSync('sha256', refreshToken, Buffer.alloc(0), INFO, 32));
}

export function sealSuccessor(pair: IssuedTokens, refreshToken: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(refreshToken), iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(pair), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The sealed pair, or undefined when it does not open with this token (tampered, or another token's). */
export function openSuccessor(sealed: string, refreshToken: string): IssuedTokens | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(refreshToken), raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as IssuedTokens;
  } catch {
    return undefined; // authentication failed: treated like no sealed pair (the reuse is then theft)
  }
}
