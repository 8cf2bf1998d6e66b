// TOTP: the RFC 6238 Appendix B SHA-1 test vectors, base32, the ±1 step window and replay refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base32Decode, base32Encode, generateTotpSecret, otpauthUri, totp, totpStep, verifyTotp } from '../../src/identity/totp.ts';

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890"; codes have 8 digits.
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'],
  [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130'],
];

test('RFC 6238 Appendix B SHA-1 vectors (8 digits), and their 6-digit truncation', () => {
  for (const [seconds, code] of RFC_VECTORS) {
    assert.equal(totp(RFC_SECRET, seconds * 1000, { digits: 8 }), code, `T=${seconds}`);
    // A 6-digit code is the same dynamic truncation mod 10^6: the last six digits.
    assert.equal(totp(RFC_SECRET, seconds * 1000), code.slice(2), `T=${seconds} (6 digits)`);
  }
});

test('base32 round-trips and matches RFC 4648 examples', () => {
  assert.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI');
  assert.equal(Buffer.from(base32Decode('MZXW6YTBOI======')).toString(), 'foobar');
  const secret = generateTotpSecret((n) => new Uint8Array(n).fill(7));
  assert.equal(base32Decode(secret).length, 20);
  assert.throws(() => base32Decode('not base32!'), /not base32/);
});

test('a code is accepted at its step and one step either side, not two', () => {
  const now = 1_700_000_015_000;
  const code = totp(RFC_SECRET, now);
  const step = totpStep(now);
  assert.deepEqual(verifyTotp(RFC_SECRET, code, now, null), { ok: true, step });
  assert.deepEqual(verifyTotp(RFC_SECRET, code, now + 30_000, null), { ok: true, step });
  assert.deepEqual(verifyTotp(RFC_SECRET, code, now - 30_000, null), { ok: true, step });
  assert.deepEqual(verifyTotp(RFC_SECRET, code, now + 60_000, null), { ok: false, reason: 'invalid' });
  assert.deepEqual(verifyTotp(RFC_SECRET, '12345', now, null), { ok: false, reason: 'malformed' });
});

test('a used step (or an earlier one) is refused as a replay; a later step passes', () => {
  const now = 1_700_000_015_000;
  const step = totpStep(now);
  assert.deepEqual(verifyTotp(RFC_SECRET, totp(RFC_SECRET, now), now, step), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(RFC_SECRET, totp(RFC_SECRET, now - 30_000), now, step), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(RFC_SECRET, totp(RFC_SECRET, now + 30_000), now, step), { ok: true, step: step + 1 });
});

test('otpauth URI carries issuer, account and parameters', () => {
  const uri = otpauthUri('Vigil', 'a@x.io', 'JBSWY3DPEHPK3PXP');
  assert.match(uri, /^otpauth:\/\/totp\/Vigil%3Aa%40x\.io\?secret=JBSWY3DPEHPK3PXP&issuer=Vigil&algorithm=SHA1&digits=6&period=30$/);
});
