// Identity and auth over the real API (issue 17): credential changes need re-authentication (password, plus the
// current TOTP code once MFA is on); the principal is checked at every call (a disabled or deleted user's token
// and the API keys they minted stop working at once, a role downgrade applies at once); two-person approval
// needs a different human (a key counts as the person who created it); lone surrogates are 400 and leave no
// row behind; logout revokes only the caller's own tokens; users only go into tenants that exist. A real
// embedded server (SQLite, ledger) with two-person approval of isolation on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { base32Decode, totp } from '../../src/identity/totp.ts';
import { call, FOREIGN_TENANT, login, PASSWORD, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let n = 0;
const unique = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

before(async () => {
  f = await startFixture({ response: { requireIsolationApproval: true } });
});
after(async () => f.stop());

interface TestUser { id: string; email: string; access_token: string; refresh_token: string }

async function newUser(role: string): Promise<TestUser> {
  const email = `${unique(role)}@default.test`;
  const r = await call(f, 'POST', '/users', { token: f.adminKey, body: { email, password: PASSWORD, role } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.id, email, ...(await login(f, email)) };
}

async function ledgerEntries() {
  const all = [];
  for (let from: number | undefined = 0; from !== undefined;) {
    const page = await f.server.security.ledger.entries({ from, limit: 1000 });
    all.push(...page.entries);
    from = page.next ?? undefined;
  }
  return all;
}

/** Waits until the current 30 s TOTP step has at least 5 s left, so step arithmetic below stays true. */
async function awayFromStepBoundary(): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5000) await new Promise((r) => setTimeout(r, left + 50));
}

test('finding 2: TOTP re-enrolment and password change need the current password and the current TOTP code', async () => {
  const u = await newUser('analyst');
  const enroll = async () => (await call(f, 'POST', '/auth/totp/enroll', { token: u.access_token })).body.secret as string;
  await awayFromStepBoundary();
  const now = Date.now();

  // First enrolment: the session alone is not enough, the password is.
  const first = await enroll();
  const firstKey = base32Decode(first);
  const noProof = await call(f, 'POST', '/auth/totp/confirm', { token: u.access_token, body: { secret: first, code: totp(firstKey, now - 30_000) } });
  assert.deepEqual([noProof.status, noProof.body.code], [401, 'reauth_required']);
  const wrong = await call(f, 'POST', '/auth/totp/confirm', { token: u.access_token, body: { secret: first, code: totp(firstKey, now - 30_000), current_password: 'not the password!' } });
  assert.deepEqual([wrong.status, wrong.body.code], [401, 'bad_credentials']);
  const ok = await call(f, 'POST', '/auth/totp/confirm', { token: u.access_token, body: { secret: first, code: totp(firstKey, now - 30_000), current_password: PASSWORD } });
  assert.equal(ok.status, 204, JSON.stringify(ok.body));

  // The probe: a session (stolen) re-enrols a new secret. Neither the session alone nor the password alone will do.
  const second = await enroll();
  const secondKey = base32Decode(second);
  const confirm = (extra: Record<string, string>) => call(f, 'POST', '/auth/totp/confirm', { token: u.access_token, body: { secret: second, code: totp(secondKey, now - 30_000), ...extra } });
  const takeover = await confirm({});
  assert.deepEqual([takeover.status, takeover.body.code], [401, 'reauth_required']);
  const passwordOnly = await confirm({ current_password: PASSWORD });
  assert.deepEqual([passwordOnly.status, passwordOnly.body.code], [401, 'mfa_required']);
  const badCode = await confirm({ current_password: PASSWORD, totp: totp(secondKey, now) });
  assert.deepEqual([badCode.status, badCode.body.code], [401, 'mfa_invalid']);
  const codeOnly = await confirm({ totp: totp(firstKey, now) });
  assert.deepEqual([codeOnly.status, codeOnly.body.code], [401, 'reauth_required']);
  // With the password and a code of the enrolled authenticator, re-enrolment works.
  const reenrolled = await confirm({ current_password: PASSWORD, totp: totp(firstKey, now) });
  assert.equal(reenrolled.status, 204, JSON.stringify(reenrolled.body));

  // Password change: with MFA on, the current code is needed too (the new authenticator's).
  const noCode = await call(f, 'POST', '/auth/password', { token: u.access_token, body: { current_password: PASSWORD, new_password: 'a brand new passphrase' } });
  assert.deepEqual([noCode.status, noCode.body.code], [401, 'mfa_required']);
  const oldCode = await call(f, 'POST', '/auth/password', { token: u.access_token, body: { current_password: PASSWORD, new_password: 'a brand new passphrase', totp: totp(firstKey, now + 30_000) } });
  assert.deepEqual([oldCode.status, oldCode.body.code], [401, 'mfa_invalid']);
  const withCode = await call(f, 'POST', '/auth/password', { token: u.access_token, body: { current_password: PASSWORD, new_password: 'a brand new passphrase', totp: totp(secondKey, now) } });
  assert.equal(withCode.status, 204, JSON.stringify(withCode.body));

  // The new password and the new authenticator log in; a code used once is not accepted again for re-authentication.
  assert.equal((await call(f, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD, totp: totp(secondKey, now + 30_000) } })).status, 401);
  const relog = await call(f, 'POST', '/auth/login', { body: { email: u.email, password: 'a brand new passphrase', totp: totp(secondKey, now + 30_000) } });
  assert.equal(relog.status, 200, JSON.stringify(relog.body));
  const third = await call(f, 'POST', '/auth/totp/enroll', { token: relog.body.access_token });
  const replay = await call(f, 'POST', '/auth/totp/confirm', { token: relog.body.access_token, body: {
    secret: third.body.secret, code: totp(base32Decode(third.body.secret), now), current_password: 'a brand new passphrase', totp: totp(secondKey, now + 30_000) } });
  assert.deepEqual([replay.status, replay.body.code], [401, 'mfa_invalid']);
});

test('finding 3: a disabled or deleted user\'s token and the API keys they minted stop working at once', async () => {
  const disabled = await newUser('admin');
  const key = await call(f, 'POST', '/api-keys', { token: disabled.access_token, body: { name: unique('persist'), role: 'admin' } });
  assert.equal(key.status, 201);
  assert.equal(key.body.created_by, `user:${disabled.id}`);
  assert.equal((await call(f, 'GET', '/auth/me', { token: key.body.key })).status, 200);

  assert.equal((await call(f, 'PATCH', `/users/${disabled.id}`, { token: f.adminKey, body: { disabled: true } })).status, 200);
  const viaToken = await call(f, 'POST', '/api-keys', { token: disabled.access_token, body: { name: unique('late'), role: 'admin' } });
  assert.deepEqual([viaToken.status, viaToken.body.code], [401, 'disabled']);
  const viaKey = await call(f, 'GET', '/users', { token: key.body.key });
  assert.equal(viaKey.status, 401);
  assert.equal((await call(f, 'POST', '/api-keys', { token: key.body.key, body: { name: unique('chain'), role: 'admin' } })).status, 401);
  // Re-enabled, their key works again (it was never revoked); their old token too (not expired, not revoked).
  assert.equal((await call(f, 'PATCH', `/users/${disabled.id}`, { token: f.adminKey, body: { disabled: false } })).status, 200);
  assert.equal((await call(f, 'GET', '/users', { token: key.body.key })).status, 200);

  const deleted = await newUser('admin');
  const dkey = await call(f, 'POST', '/api-keys', { token: deleted.access_token, body: { name: unique('persist'), role: 'viewer' } });
  // A key made by a key belongs to the same person.
  const chained = await call(f, 'POST', '/api-keys', { token: (await call(f, 'POST', '/api-keys', { token: deleted.access_token, body: { name: unique('k'), role: 'admin' } })).body.key, body: { name: unique('chained'), role: 'viewer' } });
  assert.equal(chained.body.created_by, `user:${deleted.id}`);
  assert.equal((await call(f, 'DELETE', `/users/${deleted.id}`, { token: f.adminKey })).status, 204);
  assert.deepEqual((await call(f, 'GET', '/auth/me', { token: deleted.access_token })).status, 401);
  assert.equal((await call(f, 'GET', '/hosts', { token: dkey.body.key })).status, 401);
  assert.equal((await call(f, 'GET', '/hosts', { token: chained.body.key })).status, 401);
});

test('finding 3: a role downgrade takes effect at once, for the session and for keys that now exceed the role', async () => {
  const u = await newUser('admin');
  const adminKey = await call(f, 'POST', '/api-keys', { token: u.access_token, body: { name: unique('a'), role: 'admin' } });
  const viewerKey = await call(f, 'POST', '/api-keys', { token: u.access_token, body: { name: unique('v'), role: 'viewer' } });
  assert.equal((await call(f, 'PATCH', `/users/${u.id}`, { token: f.adminKey, body: { role: 'viewer' } })).status, 200);
  const minted = await call(f, 'POST', '/api-keys', { token: u.access_token, body: { name: unique('late'), role: 'admin' } });
  assert.deepEqual([minted.status, minted.body.code], [403, 'forbidden']);
  const me = await call(f, 'GET', '/auth/me', { token: u.access_token });
  assert.equal(me.body.role, 'viewer');
  assert.equal((await call(f, 'GET', '/users', { token: adminKey.body.key })).status, 401);
  assert.equal((await call(f, 'GET', '/hosts', { token: viewerKey.body.key })).status, 200);
});

test('finding 4: two-person approval needs a different human; keys count as the person who made them', async () => {
  const host = f.agents[0].identity.agentId;
  const a = await newUser('admin');
  const b = await newUser('responder');
  const isolate = async (token: string) => {
    const r = await call(f, 'POST', `/hosts/${host}/isolate`, { token, body: { reason: 'two-person test' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.status, 'awaiting_approval');
    return r.body.id as string;
  };
  const mint = async (role: string) => (await call(f, 'POST', '/api-keys', { token: a.access_token, body: { name: unique('own'), role } })).body.key as string;
  const approve = (id: string, token: string) => call(f, 'POST', `/ir/actions/${id}/approve`, { token });

  // The probe: the requester mints a key in the same session and approves with it.
  const bySession = await isolate(a.access_token);
  const own = await approve(bySession, await mint('responder'));
  assert.equal(own.status, 409, JSON.stringify(own.body));
  // Requested with a key, approved with the same person's session or another of their keys.
  const byKey = await isolate(await mint('responder'));
  assert.equal((await approve(byKey, a.access_token)).status, 409);
  assert.equal((await approve(byKey, await mint('admin'))).status, 409);
  // Another person approves.
  const other = await approve(bySession, b.access_token);
  assert.equal(other.status, 200, JSON.stringify(other.body));
  assert.equal(other.body.approved_by, `user:${b.id}`);
  const entries = await ledgerEntries();
  // The transition is recorded with the requester as actor and the approver in `by` (docs/response.md).
  assert.ok(entries.some((e) => e.action === 'ir.approved' && e.target === bySession && e.actor === `user:${a.id}` && e.details.by === `user:${b.id}`));
});

test('finding 8: lone surrogates are 400 and a refused API key leaves no row', async () => {
  const login = await call(f, 'POST', '/auth/login', { raw: '{"email":"\\ud800@default.test","password":"some long password"}' });
  assert.equal(login.status, 400, JSON.stringify(login.body));
  const before = (await call(f, 'GET', '/api-keys?limit=1000', { token: f.adminKey })).body.api_keys.length;
  const key = await call(f, 'POST', '/api-keys', { token: f.adminKey, raw: '{"name":"evil \\udc00 key","role":"admin"}' });
  assert.equal(key.status, 400, JSON.stringify(key.body));
  const afterKeys = (await call(f, 'GET', '/api-keys?limit=1000', { token: f.adminKey })).body.api_keys;
  assert.equal(afterKeys.length, before);
  const user = await call(f, 'POST', '/users', { token: f.adminKey, raw: '{"email":"x\\ud83d@default.test","password":"correct horse battery staple","role":"viewer"}' });
  assert.equal(user.status, 400, JSON.stringify(user.body));
});

test('finding 9: logout with another tenant\'s refresh token has no effect on it; the ledger names the caller', async () => {
  const victim = await newUser('viewer');
  const attacker = await login(f, 'admin@other.test', FOREIGN_TENANT);
  const attackerId = (await call(f, 'GET', '/auth/me', { token: attacker.access_token })).body.user_id;
  const r = await call(f, 'POST', '/auth/logout', { token: attacker.access_token, body: { refresh_token: victim.refresh_token } });
  assert.ok(r.status === 204 || (r.status >= 400 && r.status < 500), `status ${r.status}`);
  const refreshed = await call(f, 'POST', '/auth/refresh', { body: { refresh_token: victim.refresh_token } });
  assert.equal(refreshed.status, 200, 'the victim\'s session is untouched');
  const logouts = (await ledgerEntries()).filter((e) => e.action === 'auth.logout');
  assert.ok(!logouts.some((e) => e.actor === `user:${victim.id}`), 'the victim is not blamed');
  const mine = logouts.filter((e) => e.actor === `user:${attackerId}`);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].tenant_id, FOREIGN_TENANT);
  assert.equal(mine[0].outcome, 'denied');

  // An API key cannot end a user's session either.
  const other = await newUser('viewer');
  await call(f, 'POST', '/auth/logout', { token: f.adminKey, body: { refresh_token: other.refresh_token } });
  assert.equal((await call(f, 'POST', '/auth/refresh', { body: { refresh_token: other.refresh_token } })).status, 200);
  // One's own logout still works.
  const self = await newUser('viewer');
  assert.equal((await call(f, 'POST', '/auth/logout', { token: self.access_token, body: { refresh_token: self.refresh_token } })).status, 204);
  assert.equal((await call(f, 'POST', '/auth/refresh', { body: { refresh_token: self.refresh_token } })).status, 401);
});

test('finding 11: users only go into tenants that exist; tenant ids are format-checked wherever accepted', async () => {
  const ghost = await call(f, 'POST', '/users', { token: f.tokens.super, body: { email: `${unique('g')}@x.test`, password: PASSWORD, role: 'admin', tenant: 'no-such-tenant' } });
  assert.deepEqual([ghost.status, ghost.body.code], [404, 'not_found']);
  const malformed = await call(f, 'POST', '/users', { token: f.tokens.super, body: { email: `${unique('g')}@x.test`, password: PASSWORD, role: 'admin', tenant: 'Bad Tenant!' } });
  assert.equal(malformed.status, 400);
  assert.equal((await call(f, 'GET', '/users?tenant=Bad%20Tenant!', { token: f.tokens.super })).status, 400);
  assert.equal((await call(f, 'GET', '/users?tenant=no-such-tenant', { token: f.tokens.super })).status, 404);
  assert.equal((await call(f, 'POST', '/auth/login', { body: { email: 'a@b.test', password: PASSWORD, tenant: 'Bad Tenant!' } })).status, 400);
  // An existing tenant works.
  const real = await call(f, 'POST', '/users', { token: f.tokens.super, body: { email: `${unique('g')}@x.test`, password: PASSWORD, role: 'viewer', tenant: FOREIGN_TENANT } });
  assert.equal(real.status, 201, JSON.stringify(real.body));
  // Creating a tenant with an invalid first admin creates nothing.
  const id = unique('t');
  const bad = await call(f, 'POST', '/tenants', { token: f.tokens.super, body: { id, name: 'T', admin: { email: 'admin@t.test', password: 'short' } } });
  assert.equal(bad.status, 400);
  const tenants = (await call(f, 'GET', '/tenants?limit=1000', { token: f.tokens.super })).body.tenants.map((t: { id: string }) => t.id);
  assert.ok(!tenants.includes(id), 'no tenant without its admin');
  assert.equal((await call(f, 'POST', '/tenants', { token: f.tokens.super, body: { id, name: 'T', admin: { email: 'admin@t.test', password: PASSWORD } } })).status, 201);
});
