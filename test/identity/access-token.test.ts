// Access JWTs: EdDSA and HS256 round trips, and each precise refusal: expired, tampered (payload, signature,
// algorithm swap, other key), wrong type (a JWT of another `typ`), malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { AccessTokens, type AccessTokenKey } from '../../src/identity/access-token.ts';
import { AuthError } from '../../src/identity/errors.ts';

function edKey(): AccessTokenKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { alg: 'EdDSA', privateKey, publicKey };
}
const hsKey = (): AccessTokenKey => ({ alg: 'HS256', secret: new Uint8Array(32).fill(9) });

const refusal = (code: string) => (err: unknown) => err instanceof AuthError && err.code === code;

for (const [name, makeKey] of [['EdDSA', edKey], ['HS256', hsKey]] as const) {
  test(`${name}: issue and verify; expires after 15 minutes`, async () => {
    let now = 1_700_000_000_000;
    const tokens = new AccessTokens({ key: makeKey(), clock: () => now });
    const { token, claims } = await tokens.issue('user:u1', 't1', 'analyst');
    assert.equal(claims.expiresAt - claims.issuedAt, 900);
    assert.deepEqual(await tokens.verify(token), claims);
    now += 899_000;
    await tokens.verify(token);
    now += 2_000;
    await assert.rejects(tokens.verify(token), refusal('expired'));
  });
}

test('tampered payload, signature, algorithm or key are refused as tampered', async () => {
  const key = edKey();
  const tokens = new AccessTokens({ key });
  const { token } = await tokens.issue('user:u1', 't1', 'viewer');
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  const escalated = Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url');
  await assert.rejects(tokens.verify(`${h}.${escalated}.${s}`), refusal('tampered'));
  const flipped = Buffer.from(s, 'base64url');
  flipped[0] ^= 1;
  await assert.rejects(tokens.verify(`${h}.${p}.${flipped.toString('base64url')}`), refusal('tampered'));
  const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new Uint8Array(32));
  await assert.rejects(tokens.verify(hs), refusal('tampered'));
  const none = new UnsecuredJWT(payload).encode();
  await assert.rejects(tokens.verify(none), (e) => e instanceof AuthError && ['tampered', 'malformed'].includes(e.code));
  const other = await new AccessTokens({ key: edKey() }).issue('user:u1', 't1', 'admin');
  await assert.rejects(tokens.verify(other.token), refusal('tampered'));
});

test('a JWT of another type is wrong_type; garbage is malformed', async () => {
  const key = edKey();
  const tokens = new AccessTokens({ key });
  const idToken = await new SignJWT({ tid: 't1', role: 'admin' }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setSubject('user:u1').setIssuer('vigil').setAudience('vigil-api').setJti('x').setIssuedAt().setExpirationTime('5m')
    .sign(key.alg === 'EdDSA' ? key.privateKey : new Uint8Array());
  await assert.rejects(tokens.verify(idToken), refusal('wrong_type'));
  await assert.rejects(tokens.verify('not-a-jwt'), refusal('malformed'));
});
