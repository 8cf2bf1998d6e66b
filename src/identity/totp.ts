// TOTP multi-factor codes (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps, accepted at the
// current step ±1, and never twice for the same (or an earlier) step: the caller stores the accepted step and
// passes it back as `lastUsedStep`. Secrets are 20 random bytes, exchanged as RFC 4648 base32 (otpauth URIs).
// Pure: time and randomness are parameters.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Random } from './clock.ts';

export interface TotpOptions {
  digits?: number;
  periodSeconds?: number;
  /** Steps accepted either side of the current one. */
  window?: number;
}

const DEFAULTS = { digits: 6, periodSeconds: 30, window: 1 };
const SECRET_BYTES = 20;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class TotpError extends Error {
  override name = 'TotpError';
}

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + BASE32[(value << (5 - bits)) & 31] : out;
}

export function base32Decode(text: string): Uint8Array {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new TotpError(`TOTP secret is not base32 (character ${JSON.stringify(ch)})`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** A new base32 TOTP secret (160 bits, as RFC 4226 recommends). */
export function generateTotpSecret(random: Random): string {
  return base32Encode(random(SECRET_BYTES));
}

/** RFC 4226 HOTP value of `counter`, zero-padded to `digits`. */
export function hotp(secret: Uint8Array, counter: number, digits = DEFAULTS.digits): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(binary).padStart(digits, '0');
}

export function totpStep(nowMs: number, periodSeconds = DEFAULTS.periodSeconds): number {
  return Math.floor(nowMs / 1000 / periodSeconds);
}

/** The TOTP code at time `nowMs`. */
export function totp(secret: Uint8Array, nowMs: number, opts: TotpOptions = {}): string {
  const o = { ...DEFAULTS, ...opts };
  return hotp(secret, totpStep(nowMs, o.periodSeconds), o.digits);
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'malformed' | 'invalid' | 'replayed' };

/**
 * Checks `code` at time `nowMs` within ±window steps. A code matching a step at or before `lastUsedStep` is
 * refused as 'replayed'. On success returns the matched step, which the caller must record.
 */
export function verifyTotp(secret: Uint8Array, code: string, nowMs: number, lastUsedStep: number | null, opts: TotpOptions = {}): TotpCheck {
  const o = { ...DEFAULTS, ...opts };
  if (!new RegExp(`^[0-9]{${o.digits}}$`).test(code)) return { ok: false, reason: 'malformed' };
  const current = totpStep(nowMs, o.periodSeconds);
  let replayed = false;
  for (let step = current - o.window; step <= current + o.window; step++) {
    if (step < 0 || !timingSafeEqual(Buffer.from(hotp(secret, step, o.digits)), Buffer.from(code))) continue;
    if (lastUsedStep !== null && step <= lastUsedStep) replayed = true;
    else return { ok: true, step };
  }
  return { ok: false, reason: replayed ? 'replayed' : 'invalid' };
}

/** The otpauth:// URI authenticator apps scan (as a QR code) to enrol `secret`. */
export function otpauthUri(issuer: string, account: string, secret: string): string {
  const label = encodeURIComponent(`${issuer}:${account}`);
  const q = new URLSearchParams({ secret, issuer, algorithm: 'SHA1', digits: String(DEFAULTS.digits), period: String(DEFAULTS.periodSeconds) });
  return `otpauth://totp/${label}?${q.toString()}`;
}
