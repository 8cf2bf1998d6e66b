// The identity libraries' security guarantees (issue 17), over a real SQLite identity store and a controlled
// clock: no state change without its audit record (a failing audit sink leaves everything as it was), lone
// surrogates refused as invalid_request (also through the real ledger), the principal checked at every call
// (disabled, deleted, downgraded users and the keys they created), owners of API keys, logout of the caller's own
// tokens only, re-authentication before credential changes (with lockout), and tenant-id format checks.

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
import { permissionsOf, PLATFORM_TENANT } from '../../src/identity/permissions.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { base32Decode, totp } from '../../src/identity/totp.ts';
import { UserDirectory } from '../../src/identity/users.ts';
import type { AuditRecord, AuditSink } from '../../src/ledger/sink.ts';
import { openLedger } from '../../src/stores/ledger/open.ts';
import { openSqliteIdentityStore } from '../../src/stores/identity/sqlite.ts';

const LOW = { memoryKiB: 256, passes: 1, parallelism: 1, tagLength: 32 };
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'another long passphrase';

/** Records in memory; while `failing`, every append throws (a ledger that cannot write). */
class SwitchableSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  failing = false;
  async record(entry: AuditRecord): Promise<void> {
    if (this.failing) throw new Error('ledger unavailable');
    this.records.push(entry);
  }
}

async function setup(t: TestContext, audit: AuditSink = new SwitchableSink()) {
  const clock = { now: 1_700_000_000_000 };
  const store = await openSqliteIdentityStore(':memory:');
  t.after(() => store.close());
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const passwords = new PasswordHasher({ params: LOW });
  const auth = new AuthService({
    store, audit, passwords, clock: () => clock.now,
    accessTokens: new AccessTokens({ key: { alg: 'EdDSA', privateKey, publicKey }, clock: () => clock.now }),
  });
  const users = new UserDirectory({ store, audit, passwords, clock: () => clock.now });
  await users.bootstrapSuperAdmin('root@vigil.io', PASSWORD);
  const superAdmin = (await auth.login({ tenantId: PLATFORM_TENANT, email: 'root@vigil.io', password: PASSWORD })).principal;
  const admin = await users.create(superAdmin, { tenantId: 't1', email: 'admin@t1.io', password: PASSWORD, role: 'admin' });
  const adminSession = await auth.login({ tenantId: 't1', email: 'admin@t1.io', password: PASSWORD });
  const viewer = await users.create(adminSession.principal, { email: 'viewer@t1.io', password: PASSWORD, role: 'viewer' });
  return { clock, store, auth, users, superAdmin, admin, adminP: adminSession.principal, adminSession, viewer };
}

const refusal = (code: string) => (err: unknown) => err instanceof AuthError && err.code === code;
const loginAs = (auth: AuthService, email: string, extra: { password?: string; totp?: string } = {}) =>
  auth.login({ tenantId: 't1', email, password: PASSWORD, ...extra });

test('a failing audit sink leaves every identity state unchanged (the record comes first)', async (t) => {
  const sink = new SwitchableSink();
  const { clock, store, auth, users, adminP, viewer, superAdmin } = await setup(t, sink);
  const viewerSession = await loginAs(auth, 'viewer@t1.io');
  const key = await auth.createApiKey(adminP, { name: 'kept', role: 'viewer' });
  const keysBefore = (await store.listApiKeys('t1')).length;
  sink.failing = true;

  await assert.rejects(users.create(adminP, { email: 'new@t1.io', password: PASSWORD, role: 'viewer' }), /ledger unavailable/);
  assert.equal(await store.findUserByEmail('t1', 'new@t1.io'), undefined, 'no user without its users.create record');
  await assert.rejects(users.bootstrapSuperAdmin('root2@vigil.io', PASSWORD), /ledger unavailable/);
  assert.equal(await store.findUserByEmail(PLATFORM_TENANT, 'root2@vigil.io'), undefined);
  await assert.rejects(auth.createApiKey(adminP, { name: 'ghost', role: 'admin' }), /ledger unavailable/);
  assert.equal((await store.listApiKeys('t1')).length, keysBefore, 'no API key without its apikeys.create record');
  await assert.rejects(users.setRole(adminP, viewer.id, 'admin'), /ledger unavailable/);
  assert.equal((await store.getUser('t1', viewer.id))?.role, 'viewer');
  await assert.rejects(users.setDisabled(adminP, viewer.id, true), /ledger unavailable/);
  assert.equal((await store.getUser('t1', viewer.id))?.disabled, false);
  await assert.rejects(users.delete(adminP, viewer.id), /ledger unavailable/);
  assert.ok(await store.getUser('t1', viewer.id), 'not deleted');
  await assert.rejects(auth.revokeApiKey(adminP, key.record.id), /ledger unavailable/);
  assert.equal((await store.getApiKey(key.record.id))?.revokedAt, null);
  await assert.rejects(users.changeOwnPassword(viewerSession.principal, { password: PASSWORD }, NEW_PASSWORD), /ledger unavailable/);
  const secret = (await users.beginTotpEnrolment(viewerSession.principal)).secret;
  await assert.rejects(users.confirmTotpEnrolment(viewerSession.principal, { password: PASSWORD }, secret, totp(base32Decode(secret), clock.now)), /ledger unavailable/);
  assert.equal((await store.getUser('t1', viewer.id))?.totpSecret, null);
  await assert.rejects(auth.logout(viewerSession.principal, { accessToken: viewerSession.accessToken, refreshToken: viewerSession.refreshToken }), /ledger unavailable/);
  await assert.rejects(auth.login({ tenantId: 't1', email: 'viewer@t1.io', password: PASSWORD }), /ledger unavailable/);
  await assert.rejects(auth.revokeAccessToken(superAdmin, viewerSession.principal.tokenId, clock.now + 60_000), /ledger unavailable/);

  sink.failing = false;
  // Everything still works as before: the old password, the session, the key.
  await auth.verifyAccessToken(viewerSession.accessToken);
  await auth.refresh(viewerSession.refreshToken);
  await auth.authenticate(key.key);
  await loginAs(auth, 'viewer@t1.io');
});

test('lone surrogates are invalid_request before anything is stored, and a failed login with one is recorded', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-identity-surrogate-'));
  const ledger = await openLedger({ dataDir });
  t.after(async () => { await ledger.close(); rmSync(dataDir, { recursive: true, force: true }); });
  const { store, auth, users, adminP } = await setup(t, ledger);
  const keys = (await store.listApiKeys('t1')).length;
  await assert.rejects(auth.createApiKey(adminP, { name: 'bad \ud800 name', role: 'admin' }), refusal('invalid_request'));
  assert.equal((await store.listApiKeys('t1')).length, keys);
  await assert.rejects(users.create(adminP, { email: 'x\udc00@t1.io', password: PASSWORD, role: 'viewer' }), refusal('invalid_request'));
  await assert.rejects(users.create(adminP, { email: 'y@t1.io', password: `${PASSWORD}\ud800`, role: 'viewer' }), refusal('invalid_request'));
  await assert.rejects(auth.login({ tenantId: 't1', email: '\ud800@t1.io', password: PASSWORD }), refusal('invalid_request'));
  await assert.rejects(auth.login({ tenantId: 'T1 ', email: 'viewer@t1.io', password: PASSWORD }), refusal('invalid_request'));
  // A wrong password still lands in the real ledger (which refuses lone surrogates).
  await assert.rejects(auth.login({ tenantId: 't1', email: 'viewer@t1.io', password: 'wrong password here' }), refusal('bad_credentials'));
  const { entries } = await ledger.entries({ tenantId: 't1' });
  assert.equal(entries.at(-1)?.action, 'auth.login');
  assert.equal(entries.at(-1)?.outcome, 'failure');
});

test('the principal is checked at every call: disabled, deleted, downgraded users and the keys they created', async (t) => {
  const { auth, users, adminP, superAdmin } = await setup(t);
  const second = await users.create(adminP, { email: 'second@t1.io', password: PASSWORD, role: 'admin' });
  const session = await loginAs(auth, 'second@t1.io');
  const adminKey = await auth.createApiKey(session.principal, { name: 'admin key', role: 'admin' });
  const viewerKey = await auth.createApiKey(session.principal, { name: 'viewer key', role: 'viewer' });
  assert.equal(adminKey.record.createdBy, `user:${second.id}`);
  const keyPrincipal = await auth.authenticate(adminKey.key);
  assert.equal(keyPrincipal.owner, `user:${second.id}`);
  // A key made with a key belongs to the same person.
  const chained = await auth.createApiKey(keyPrincipal, { name: 'chained', role: 'viewer' });
  assert.equal(chained.record.createdBy, `user:${second.id}`);
  // Their own key counts as them: no changing their own role, disabling or deleting themselves through it.
  await assert.rejects(users.setRole(keyPrincipal, second.id, 'viewer'), refusal('forbidden'));
  await assert.rejects(users.setDisabled(keyPrincipal, second.id, true), refusal('forbidden'));
  await assert.rejects(users.delete(keyPrincipal, second.id), refusal('forbidden'));

  await users.setRole(adminP, second.id, 'analyst');
  const downgraded = await auth.authenticate(session.accessToken);
  assert.equal(downgraded.role, 'analyst', 'the current role applies, not the token\'s');
  await assert.rejects(auth.createApiKey(downgraded, { name: 'x', role: 'viewer' }), refusal('forbidden'));
  await assert.rejects(auth.authenticate(adminKey.key), refusal('revoked'));
  assert.equal((await auth.authenticate(viewerKey.key)).role, 'viewer');

  await users.setDisabled(adminP, second.id, true);
  await assert.rejects(auth.authenticate(session.accessToken), refusal('disabled'));
  await assert.rejects(auth.authenticate(viewerKey.key), refusal('disabled'));
  await assert.rejects(auth.authenticate(chained.key), refusal('disabled'));
  await users.setDisabled(adminP, second.id, false);
  assert.equal((await auth.authenticate(viewerKey.key)).role, 'viewer');

  await users.delete(adminP, second.id);
  await assert.rejects(auth.authenticate(session.accessToken), refusal('revoked'));
  await assert.rejects(auth.authenticate(viewerKey.key), refusal('disabled'));
  await assert.rejects(auth.authenticate(chained.key), refusal('disabled'));

  // A key made by a non-user actor (the bootstrap `system`) has no person to check and keeps working.
  const system: Principal = { kind: 'user', subject: 'system', tenantId: 't1', role: 'admin', permissions: permissionsOf('admin'), tokenId: 'bootstrap' };
  const bootstrap = await auth.createApiKey(system, { name: 'bootstrap', role: 'admin' });
  assert.equal((await auth.authenticate(bootstrap.key)).owner, 'system');
  // Owners resolve across a key chain; an unknown key is its own owner.
  assert.equal(await auth.ownerOf('t1', `apikey:${chained.record.id}`), `user:${second.id}`);
  assert.equal(await auth.ownerOf('t2', `apikey:${chained.record.id}`), `apikey:${chained.record.id}`);
  assert.equal(await auth.ownerOf('t1', 'user:u1'), 'user:u1');
  void superAdmin;
});

test('logout revokes only the caller\'s own tokens; another\'s are untouched and the caller is recorded as denied', async (t) => {
  const sink = new SwitchableSink();
  const { auth, users, superAdmin, adminP } = await setup(t, sink);
  await users.create(superAdmin, { tenantId: 't2', email: 'admin@t2.io', password: PASSWORD, role: 'admin' });
  const attacker = await auth.login({ tenantId: 't2', email: 'admin@t2.io', password: PASSWORD });
  const victim = await loginAs(auth, 'viewer@t1.io');
  await auth.logout(attacker.principal, { accessToken: victim.accessToken, refreshToken: victim.refreshToken });
  await auth.verifyAccessToken(victim.accessToken);
  const rotated = await auth.refresh(victim.refreshToken);
  const last = sink.records.at(-1)!;
  assert.deepEqual([last.action, last.actor, last.tenantId, last.outcome], ['auth.logout', attacker.principal.subject, 't2', 'denied']);
  assert.deepEqual(last.detail, { access_token: 'absent', refresh_token: 'not_own' });
  // An API key (of the victim's own tenant admin) cannot end the user's session either.
  const key = await auth.authenticate((await auth.createApiKey(adminP, { name: 'k', role: 'admin' })).key);
  await auth.logout(key, { refreshToken: rotated.refreshToken });
  await auth.refresh(rotated.refreshToken);
  // An unknown token is no error (no oracle); one's own tokens are revoked.
  await auth.logout(attacker.principal, { refreshToken: 'vrt_unknown' });
  assert.equal(sink.records.at(-1)?.detail?.refresh_token, 'unknown');
  await auth.logout(attacker.principal, { accessToken: attacker.accessToken, refreshToken: attacker.refreshToken });
  await assert.rejects(auth.verifyAccessToken(attacker.accessToken), refusal('revoked'));
  await assert.rejects(auth.refresh(attacker.refreshToken), refusal('revoked'));
  assert.equal(sink.records.at(-1)?.outcome, 'success');
});

test('credential changes need re-authentication: password, and the current TOTP code with MFA; failures lock', async (t) => {
  const { auth, users, clock, adminP, viewer, store } = await setup(t);
  const me = (await loginAs(auth, 'viewer@t1.io')).principal;
  const first = (await users.beginTotpEnrolment(me)).secret;
  const firstKey = base32Decode(first);
  await assert.rejects(users.confirmTotpEnrolment(me, {}, first, totp(firstKey, clock.now)), refusal('reauth_required'));
  await users.confirmTotpEnrolment(me, { password: PASSWORD }, first, totp(firstKey, clock.now));
  clock.now += 30_000;
  const second = (await users.beginTotpEnrolment(me)).secret;
  const secondKey = base32Decode(second);
  await assert.rejects(users.confirmTotpEnrolment(me, {}, second, totp(secondKey, clock.now)), refusal('reauth_required'));
  await assert.rejects(users.confirmTotpEnrolment(me, { password: PASSWORD }, second, totp(secondKey, clock.now)), refusal('mfa_required'));
  await assert.rejects(users.changeOwnPassword(me, { password: PASSWORD }, NEW_PASSWORD), refusal('mfa_required'));
  await users.confirmTotpEnrolment(me, { password: PASSWORD, totp: totp(firstKey, clock.now) }, second, totp(secondKey, clock.now));
  assert.equal((await store.getUser('t1', viewer.id))?.totpSecret, second);

  // Administrators re-authenticate too; API keys cannot (forbidden).
  await assert.rejects(users.removeTotp(adminP, viewer.id, {}), refusal('reauth_required'));
  const key = await auth.authenticate((await auth.createApiKey(adminP, { name: 'k', role: 'admin' })).key);
  await assert.rejects(users.resetPassword(key, viewer.id, NEW_PASSWORD, { password: PASSWORD }), refusal('forbidden'));
  await users.removeTotp(adminP, viewer.id, { password: PASSWORD });
  assert.equal((await store.getUser('t1', viewer.id))?.totpSecret, null);

  // Guessing the current password through a session locks the account like failed logins do.
  for (let i = 0; i < 4; i++) await assert.rejects(users.changeOwnPassword(me, { password: `wrong guess number ${i}` }, NEW_PASSWORD), refusal('bad_credentials'));
  await assert.rejects(users.changeOwnPassword(me, { password: 'wrong guess number 5' }, NEW_PASSWORD), refusal('locked'));
  await assert.rejects(users.changeOwnPassword(me, { password: PASSWORD }, NEW_PASSWORD), refusal('locked'));
  await assert.rejects(loginAs(auth, 'viewer@t1.io'), refusal('locked'));
});

test('tenant ids are format-checked wherever a tenant is named', async (t) => {
  const { users, superAdmin, adminP } = await setup(t);
  await assert.rejects(users.create(superAdmin, { tenantId: 'Bad Tenant', email: 'a@b.io', password: PASSWORD, role: 'admin' }), refusal('invalid_request'));
  await assert.rejects(users.list(superAdmin, '../t1'), refusal('invalid_request'));
  await assert.rejects(users.list(adminP, 'Bad'), refusal('invalid_request'));
  await assert.rejects(users.list(adminP, 't2'), refusal('not_found'));
  assert.equal((await users.list(superAdmin, 't1')).length, 2);
});
