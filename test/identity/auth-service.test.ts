// AuthService and UserDirectory end to end over a real (SQLite) identity store, a controlled clock, low argon2
// parameters: login refusals (bad credentials, locked, disabled, mfa required/invalid/replayed), lockout expiry,
// rehash, refresh rotation and reuse detection, logout, token refusals, API keys, tenant confinement, and the
// audit records (including through the real ledger).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessTokens } from '../../src/identity/access-token.ts';
import { AuthService } from '../../src/identity/auth-service.ts';
import { AuthError } from '../../src/identity/errors.ts';
import { PasswordHasher } from '../../src/identity/password.ts';
import { PLATFORM_TENANT } from '../../src/identity/permissions.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { hashSecret } from '../../src/identity/secrets.ts';
import { base32Decode, totp } from '../../src/identity/totp.ts';
import { UserDirectory } from '../../src/identity/users.ts';
import type { AuditRecord, AuditSink } from '../../src/ledger/sink.ts';
import { openLedger } from '../../src/stores/ledger/open.ts';
import { openSqliteIdentityStore } from '../../src/stores/identity/sqlite.ts';

const LOW = { memoryKiB: 256, passes: 1, parallelism: 1, tagLength: 32 };
const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;

class MemorySink implements AuditSink {
  readonly records: AuditRecord[] = [];
  async record(entry: AuditRecord): Promise<void> {
    this.records.push(entry);
  }
}

async function setup(t: TestContext, opts: { audit?: AuditSink; params?: typeof LOW } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const store = await openSqliteIdentityStore(':memory:');
  t.after(() => store.close());
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const audit = opts.audit ?? new MemorySink();
  const passwords = new PasswordHasher({ params: opts.params ?? LOW });
  const auth = new AuthService({
    store, audit, passwords, clock: () => clock.now,
    accessTokens: new AccessTokens({ key: { alg: 'EdDSA', privateKey, publicKey }, clock: () => clock.now }),
  });
  const users = new UserDirectory({ store, audit, passwords, clock: () => clock.now });
  const root = await users.bootstrapSuperAdmin('root@vigil.io', PASSWORD);
  const superAdmin = (await auth.login({ tenantId: PLATFORM_TENANT, email: 'root@vigil.io', password: PASSWORD })).principal;
  const admin = await users.create(superAdmin, { tenantId: 't1', email: 'Admin@T1.io ', password: PASSWORD, role: 'admin' });
  const adminP = (await auth.login({ tenantId: 't1', email: 'admin@t1.io', password: PASSWORD })).principal;
  const viewer = await users.create(adminP, { email: 'viewer@t1.io', password: PASSWORD, role: 'viewer' });
  return { clock, store, audit, auth, users, superAdmin, root, admin, adminP, viewer };
}

const refusal = (code: string) => (err: unknown) => err instanceof AuthError && err.code === code;
const login = (auth: AuthService, extra: Partial<{ password: string; totp: string; email: string; tenantId: string }> = {}) =>
  auth.login({ tenantId: 't1', email: 'viewer@t1.io', password: PASSWORD, ...extra });

test('login issues tokens whose principal carries tenant, role and permissions; success is audited', async (t) => {
  const { auth, audit, viewer } = await setup(t);
  const pair = await login(auth, { email: ' VIEWER@t1.io' });
  assert.equal(pair.expiresIn, 900);
  const p = await auth.verifyAccessToken(pair.accessToken);
  assert.deepEqual([p.kind, p.userId, p.tenantId, p.role], ['user', viewer.id, 't1', 'viewer']);
  assert.ok(p.permissions.includes('alerts:read') && !p.permissions.includes('ir:execute'));
  assert.deepEqual((audit as MemorySink).records.at(-1), { actor: `user:${viewer.id}`, tenantId: 't1', action: 'auth.login', outcome: 'success', requestId: undefined });
});

test('bad credentials: wrong password, unknown e-mail, other tenant; each failure audited without secrets', async (t) => {
  const { auth, audit } = await setup(t);
  await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('bad_credentials'));
  await assert.rejects(login(auth, { email: 'nobody@t1.io' }), refusal('bad_credentials'));
  await assert.rejects(login(auth, { tenantId: 't2' }), refusal('bad_credentials'));
  await assert.rejects(login(auth, { password: '' }), refusal('invalid_request'));
  const failures = (audit as MemorySink).records.filter((r) => r.outcome === 'failure');
  assert.equal(failures.length, 3);
  assert.deepEqual(failures[0], { actor: 'viewer@t1.io', tenantId: 't1', action: 'auth.login', outcome: 'failure', requestId: undefined, detail: { reason: 'bad_credentials' } });
  assert.ok(!JSON.stringify((audit as MemorySink).records).includes('wrong password'));
});

test('lockout after 5 failures for 15 minutes, then a successful login resets it', async (t) => {
  const { auth, clock } = await setup(t);
  for (let i = 0; i < 4; i++) await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('bad_credentials'));
  await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('locked'));
  await assert.rejects(login(auth), (e) => e instanceof AuthError && e.code === 'locked' && e.retryAfterSeconds === 900);
  clock.now += 14 * MINUTE;
  await assert.rejects(login(auth), (e) => e instanceof AuthError && e.code === 'locked' && e.retryAfterSeconds === 60);
  clock.now += MINUTE;
  await login(auth);
  await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('bad_credentials'));
});

test('a disabled user is refused (after the password check) and loses their sessions', async (t) => {
  const { auth, users, adminP, viewer } = await setup(t);
  const pair = await login(auth);
  await users.setDisabled(adminP, viewer.id, true);
  await assert.rejects(login(auth), refusal('disabled'));
  await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('bad_credentials'));
  await assert.rejects(auth.refresh(pair.refreshToken), refusal('revoked'));
  await users.setDisabled(adminP, viewer.id, false);
  await login(auth);
});

test('MFA: enrol, then login requires a valid, unused TOTP code', async (t) => {
  const { auth, users, clock } = await setup(t);
  const me = (await login(auth)).principal;
  const { secret, uri } = await users.beginTotpEnrolment(me);
  assert.match(uri, /^otpauth:\/\/totp\/Vigil%3Aviewer%40t1\.io\?secret=/);
  await assert.rejects(users.confirmTotpEnrolment(me, { password: PASSWORD }, secret, '000000'), refusal('mfa_invalid'));
  const key = base32Decode(secret);
  await users.confirmTotpEnrolment(me, { password: PASSWORD }, secret, totp(key, clock.now));
  await assert.rejects(login(auth), refusal('mfa_required'));
  await assert.rejects(login(auth, { totp: totp(key, clock.now) }), refusal('mfa_invalid')); // the enrolment code's step is used
  clock.now += 30_000;
  await assert.rejects(login(auth, { totp: totp(key, clock.now + 5 * 30_000) }), refusal('mfa_invalid'));
  const code = totp(key, clock.now);
  await login(auth, { totp: code });
  await assert.rejects(login(auth, { totp: code }), (e) => e instanceof AuthError && e.code === 'mfa_invalid' && /replayed/.test(e.message));
});

test('refresh rotates; reusing an exchanged token revokes the whole family', async (t) => {
  const { auth, audit, store, viewer } = await setup(t);
  const first = await login(auth);
  assert.ok((await store.findRefreshToken(hashSecret(first.refreshToken))) !== undefined);
  const second = await auth.refresh(first.refreshToken);
  assert.notEqual(second.refreshToken, first.refreshToken);
  assert.equal((await auth.verifyAccessToken(second.accessToken)).userId, viewer.id);
  await assert.rejects(auth.refresh(first.refreshToken), refusal('reuse_detected'));
  await assert.rejects(auth.refresh(second.refreshToken), refusal('revoked'));
  assert.equal((audit as MemorySink).records.at(-1)?.action, 'auth.refresh');
  assert.equal((audit as MemorySink).records.at(-1)?.outcome, 'denied');
  const other = await login(auth);
  await auth.refresh(other.refreshToken);
});

test('refresh tokens expire after 7 days; concurrent use of one token is reuse', async (t) => {
  const { auth, clock } = await setup(t);
  const old = await login(auth);
  clock.now += 7 * 24 * 60 * MINUTE;
  await assert.rejects(auth.refresh(old.refreshToken), refusal('expired'));
  const fresh = await login(auth);
  const results = await Promise.allSettled([auth.refresh(fresh.refreshToken), auth.refresh(fresh.refreshToken)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  await assert.rejects(auth.refresh('vrt_unknown'), refusal('revoked'));
  await assert.rejects(auth.refresh(fresh.accessToken), refusal('wrong_type'));
});

test('logout revokes the access token (until expiry) and the refresh family', async (t) => {
  const { auth } = await setup(t);
  const pair = await login(auth);
  await auth.logout(pair.principal, { accessToken: pair.accessToken, refreshToken: pair.refreshToken });
  await assert.rejects(auth.verifyAccessToken(pair.accessToken), refusal('revoked'));
  await assert.rejects(auth.refresh(pair.refreshToken), refusal('revoked'));
});

test('access token refusals: expired, tampered, wrong type', async (t) => {
  const { auth, clock, adminP } = await setup(t);
  const pair = await login(auth);
  const { key } = await auth.createApiKey(adminP, { name: 'ci', role: 'viewer' });
  await assert.rejects(auth.verifyAccessToken(pair.refreshToken), refusal('wrong_type'));
  await assert.rejects(auth.verifyAccessToken(key), refusal('wrong_type'));
  await assert.rejects(auth.verifyAccessToken(`${pair.accessToken.slice(0, -3)}AAA`), refusal('tampered'));
  clock.now += 16 * MINUTE;
  await assert.rejects(auth.verifyAccessToken(pair.accessToken), refusal('expired'));
});

test('API keys: shown once, hashed at rest, scoped to role and tenant, revocable, last use recorded', async (t) => {
  const { auth, store, adminP, superAdmin, users, clock } = await setup(t);
  const { key, record } = await auth.createApiKey(adminP, { name: 'siem export', role: 'analyst' });
  assert.match(key, /^vgk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
  const stored = await store.getApiKey(record.id);
  assert.equal(stored?.keyHash, hashSecret(key));
  assert.ok(!JSON.stringify(stored).includes(key.slice(30)));
  const p: Principal = await auth.authenticate(key);
  assert.deepEqual([p.kind, p.apiKeyId, p.tenantId, p.role, p.subject], ['apikey', record.id, 't1', 'analyst', `apikey:${record.id}`]);
  assert.equal((await store.getApiKey(record.id))?.lastUsedAt, clock.now);
  await assert.rejects(auth.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`), refusal('bad_credentials'));
  await assert.rejects(auth.createApiKey(adminP, { name: 'x', role: 'super-admin' }), refusal('invalid_request'));
  const viewer = (await login(auth)).principal;
  await assert.rejects(auth.createApiKey(viewer, { name: 'x', role: 'viewer' }), refusal('forbidden'));
  await users.create(superAdmin, { tenantId: 't2', email: 'admin@t2.io', password: PASSWORD, role: 'admin' });
  const otherAdmin = (await auth.login({ tenantId: 't2', email: 'admin@t2.io', password: PASSWORD })).principal;
  await assert.rejects(auth.revokeApiKey(otherAdmin, record.id), refusal('not_found'));
  assert.deepEqual((await auth.listApiKeys(otherAdmin)), []);
  await auth.revokeApiKey(adminP, record.id);
  await assert.rejects(auth.authenticate(key), refusal('revoked'));
  const expiring = await auth.createApiKey(adminP, { name: 'short', role: 'viewer', expiresAt: clock.now + MINUTE });
  clock.now += 2 * MINUTE;
  await assert.rejects(auth.authenticate(expiring.key), refusal('expired'));
});

test('user management is confined to the tenant: another tenant\'s user is not_found', async (t) => {
  const { users, superAdmin, adminP, viewer, auth } = await setup(t);
  const t2admin = await users.create(superAdmin, { tenantId: 't2', email: 'admin@t2.io', password: PASSWORD, role: 'admin' });
  await assert.rejects(users.get(adminP, t2admin.id), refusal('not_found'));
  await assert.rejects(users.get(adminP, t2admin.id, 't2'), refusal('not_found'));
  await assert.rejects(users.setRole(adminP, t2admin.id, 'viewer'), refusal('not_found'));
  assert.equal((await users.get(superAdmin, t2admin.id, 't2')).email, 'admin@t2.io');
  await assert.rejects(users.create(adminP, { email: 'viewer@t1.io', password: PASSWORD, role: 'viewer' }), refusal('conflict'));
  await assert.rejects(users.create(adminP, { email: 'x@t1.io', password: 'short', role: 'viewer' }), refusal('invalid_request'));
  await assert.rejects(users.setRole(adminP, viewer.id, 'super-admin'), refusal('invalid_request'));
  const viewerP = (await login(auth)).principal;
  await assert.rejects(users.create(viewerP, { email: 'y@t1.io', password: PASSWORD, role: 'admin' }), refusal('forbidden'));
  await users.setRole(adminP, viewer.id, 'responder');
  assert.equal((await login(auth)).principal.role, 'responder');
  assert.ok(!('passwordHash' in (await users.get(adminP, viewer.id))));
});

test('password hashes made with old parameters are upgraded at login; password change ends sessions', async (t) => {
  const { auth, store, users, viewer } = await setup(t);
  const stronger = new AuthService({ store, audit: auth.audit, accessTokens: auth.accessTokens, passwords: new PasswordHasher({ params: { ...LOW, memoryKiB: 512 } }) });
  await stronger.login({ tenantId: 't1', email: 'viewer@t1.io', password: PASSWORD });
  assert.match((await store.getUser('t1', viewer.id))!.passwordHash, /m=512,/);
  const pair = await login(auth);
  await users.changeOwnPassword(pair.principal, { password: PASSWORD }, 'another long passphrase');
  await assert.rejects(auth.refresh(pair.refreshToken), refusal('revoked'));
  await login(auth, { password: 'another long passphrase' });
});

test('the ledger is an AuditSink: logins and privileged changes land in it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-identity-ledger-'));
  const ledger = await openLedger({ dataDir });
  t.after(async () => { await ledger.close(); rmSync(dataDir, { recursive: true, force: true }); });
  const { auth } = await setup(t, { audit: ledger });
  await assert.rejects(login(auth, { password: 'wrong password here' }), refusal('bad_credentials'));
  const { entries } = await ledger.entries({ tenantId: 't1' });
  assert.deepEqual(entries.map((e) => `${e.action}:${e.outcome}`), ['users.create:success', 'auth.login:success', 'users.create:success', 'auth.login:failure']);
  assert.deepEqual(entries.at(-1)?.details, { reason: 'bad_credentials' });
});
