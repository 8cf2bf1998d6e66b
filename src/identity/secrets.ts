// Opaque bearer secrets (refresh tokens, API keys): generation with a type prefix that says what a string is,
// SHA-256 hashing for storage (the secrets carry 256 random bits, so a fast hash suffices) and constant-time
// comparison. Pure.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Random } from './clock.ts';

export const REFRESH_TOKEN_PREFIX = 'vrt_';
export const API_KEY_PREFIX = 'vgk_';
const SECRET_BYTES = 32;

/** `prefix` + 32 random bytes as base64url. */
export function newSecret(prefix: string, random: Random): string {
  return prefix + Buffer.from(random(SECRET_BYTES)).toString('base64url');
}

/** SHA-256 of the secret, hex: what the store keeps. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a, 'hex'), Buffer.from(b, 'hex')];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What kind of credential a bearer string looks like, by its shape alone. */
export function credentialKind(text: string): 'refresh' | 'apikey' | 'jwt' | 'unknown' {
  if (text.startsWith(REFRESH_TOKEN_PREFIX)) return 'refresh';
  if (text.startsWith(API_KEY_PREFIX)) return 'apikey';
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text) ? 'jwt' : 'unknown';
}
