// The IdentityStore conformance suite, run against SQLite (sqlite-store.test.ts) and PostgreSQL
// (postgres-store.test.ts): users scoped per tenant, atomic counters and steps, refresh families and
// single-use tokens, revoked access-token ids, API keys, expiry purge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityConflictError, type ApiKeyRecord, type IdentityStore, type UserRecord } from '../../src/identity/store.ts';

export type StoreFactory = () => Promise<{ store: IdentityStore; cleanup(): Promise<void> }>;

const user = (id: string, tenantId: string, email: string): UserRecord => ({
  id, tenantId, email, passwordHash: '$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA', role: 'viewer', totpSecret: null,
  totpLastStep: null, failedLogins: 0, lockedUntil: null, disabled: false, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000,
});

const apiKey = (id: string, tenantId: string): ApiKeyRecord => ({
  id, tenantId, name: `key ${id}`, role: 'analyst', keyHash: 'ab'.repeat(32), createdBy: 'user:u1',
  createdAt: 1_700_000_000_000, expiresAt: null, revokedAt: null, lastUsedAt: null,
});

export function identityStoreConformance(kind: string, open: StoreFactory): void {
  const withStore = (name: string, body: (s: IdentityStore) => Promise<void>) =>
    test(`${kind}: ${name}`, async () => {
      const { store, cleanup } = await open();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });

  withStore('users round-trip, e-mail unique per tenant, every query scoped to its tenant', async (s) => {
    const u = { ...user('u1', 't1', 'a@x.io'), totpSecret: 'JBSWY3DPEHPK3PXP', totpLastStep: 12, lockedUntil: 1_800_000_000_000 };
    await s.createUser(u);
    assert.deepEqual(await s.getUser('t1', 'u1'), u);
    assert.deepEqual(await s.findUserByEmail('t1', 'a@x.io'), u);
    await assert.rejects(s.createUser(user('u2', 't1', 'a@x.io')), IdentityConflictError);
    await s.createUser(user('u3', 't2', 'a@x.io'));
    assert.equal(await s.getUser('t2', 'u1'), undefined);
    assert.equal(await s.findUserByEmail('t3', 'a@x.io'), undefined);
    assert.deepEqual((await s.listUsers('t1')).map((x) => x.id), ['u1']);
    assert.equal(await s.updateUser('t2', 'u1', { role: 'admin' }), false);
    assert.equal(await s.updateUser('t1', 'u1', { role: 'admin', disabled: true, totpSecret: null, lockedUntil: null }), true);
    const changed = await s.getUser('t1', 'u1');
    assert.deepEqual([changed?.role, changed?.disabled, changed?.totpSecret, changed?.lockedUntil], ['admin', true, null, null]);
    assert.equal(await s.deleteUser('t2', 'u1'), false);
    assert.equal(await s.deleteUser('t1', 'u1'), true);
    assert.equal(await s.getUser('t1', 'u1'), undefined);
  });

  withStore('failed-login counter and TOTP steps are atomic', async (s) => {
    await s.createUser(user('u1', 't1', 'a@x.io'));
    const counts = await Promise.all(Array.from({ length: 5 }, () => s.incrementFailedLogins('t1', 'u1', 5)));
    assert.deepEqual([...counts].sort(), [1, 2, 3, 4, 5]);
    assert.equal(await s.incrementFailedLogins('t2', 'u1', 5), 0);
    const wins = await Promise.all([s.useTotpStep('t1', 'u1', 100), s.useTotpStep('t1', 'u1', 100)]);
    assert.deepEqual(wins.sort(), [false, true]);
    assert.equal(await s.useTotpStep('t1', 'u1', 99), false);
    assert.equal(await s.useTotpStep('t1', 'u1', 101), true);
    assert.equal((await s.getUser('t1', 'u1'))?.totpLastStep, 101);
  });

  withStore('refresh tokens are single-use and families revoke once', async (s) => {
    await s.createRefreshFamily({ id: 'f1', tenantId: 't1', userId: 'u1', createdAt: 1, revokedAt: null, revokedReason: null });
    await s.createRefreshFamily({ id: 'f2', tenantId: 't1', userId: 'u1', createdAt: 1, revokedAt: null, revokedReason: null });
    await s.addRefreshToken({ id: 'r1', familyId: 'f1', tokenHash: 'h1', issuedAt: 1, expiresAt: 100, usedAt: null });
    await assert.rejects(s.addRefreshToken({ id: 'r2', familyId: 'f1', tokenHash: 'h1', issuedAt: 1, expiresAt: 100, usedAt: null }), IdentityConflictError);
    assert.equal((await s.findRefreshToken('h1'))?.familyId, 'f1');
    assert.equal(await s.findRefreshToken('nope'), undefined);
    const uses = await Promise.all([s.markRefreshTokenUsed('r1', 5), s.markRefreshTokenUsed('r1', 6)]);
    assert.deepEqual(uses.sort(), [false, true]);
    assert.equal(await s.revokeRefreshFamily('f1', 7, 'logout'), true);
    assert.equal(await s.revokeRefreshFamily('f1', 8, 'again'), false);
    assert.deepEqual(await s.getRefreshFamily('f1'), { id: 'f1', tenantId: 't1', userId: 'u1', createdAt: 1, revokedAt: 7, revokedReason: 'logout' });
    assert.equal(await s.revokeUserRefreshFamilies('t2', 'u1', 9, 'x'), 0);
    assert.equal(await s.revokeUserRefreshFamilies('t1', 'u1', 9, 'password-changed'), 1);
  });

  withStore('revoked access-token ids and purge of expired rows', async (s) => {
    await s.revokeAccessToken('j1', 1000);
    await s.revokeAccessToken('j1', 1000);
    await s.revokeAccessToken('j2', 3000);
    assert.equal(await s.isAccessTokenRevoked('j1'), true);
    assert.equal(await s.isAccessTokenRevoked('j3'), false);
    await s.createRefreshFamily({ id: 'f1', tenantId: 't1', userId: 'u1', createdAt: 1, revokedAt: null, revokedReason: null });
    await s.addRefreshToken({ id: 'r1', familyId: 'f1', tokenHash: 'h1', issuedAt: 1, expiresAt: 1500, usedAt: null });
    assert.equal(await s.purgeExpired(2000), 2);
    assert.equal(await s.isAccessTokenRevoked('j1'), false);
    assert.equal(await s.isAccessTokenRevoked('j2'), true);
    assert.equal(await s.findRefreshToken('h1'), undefined);
  });

  withStore('API keys: scoped listing and revocation, last use', async (s) => {
    await s.createApiKey(apiKey('k1', 't1'));
    await s.createApiKey(apiKey('k2', 't2'));
    await assert.rejects(s.createApiKey(apiKey('k1', 't1')), IdentityConflictError);
    assert.deepEqual(await s.getApiKey('k1'), apiKey('k1', 't1'));
    assert.deepEqual((await s.listApiKeys('t1')).map((k) => k.id), ['k1']);
    assert.equal(await s.revokeApiKey('t2', 'k1', 50), false);
    assert.equal(await s.revokeApiKey('t1', 'k1', 50), true);
    assert.equal(await s.revokeApiKey('t1', 'k1', 60), false);
    await s.touchApiKey('k2', 70);
    assert.equal((await s.getApiKey('k1'))?.revokedAt, 50);
    assert.equal((await s.getApiKey('k2'))?.lastUsedAt, 70);
  });

  withStore('users page by e-mail and API keys by creation then id, scoped to the tenant', async (s) => {
    for (const [id, email] of [['u1', 'c@x.io'], ['u2', 'a@x.io'], ['u3', 'b@x.io']]) await s.createUser(user(id, 't1', email));
    await s.createUser(user('u4', 't2', 'a0@x.io'));
    const first = await s.listUsers('t1', { limit: 2 });
    assert.deepEqual(first.map((u) => u.email), ['a@x.io', 'b@x.io']);
    assert.deepEqual((await s.listUsers('t1', { after: 'b@x.io', limit: 2 })).map((u) => u.email), ['c@x.io']);
    assert.deepEqual(await s.listUsers('t1', { after: 'c@x.io', limit: 2 }), []);
    const at = (k: ApiKeyRecord, createdAt: number) => ({ ...k, createdAt, keyHash: k.id.repeat(32) });
    for (const k of [at(apiKey('k2', 't1'), 10), at(apiKey('k1', 't1'), 10), at(apiKey('k0', 't1'), 20), at(apiKey('k9', 't2'), 5)]) await s.createApiKey(k);
    assert.deepEqual((await s.listApiKeys('t1', { limit: 2 })).map((k) => k.id), ['k1', 'k2']);
    assert.deepEqual((await s.listApiKeys('t1', { after: [10, 'k1'], limit: 2 })).map((k) => k.id), ['k2', 'k0']);
    assert.deepEqual((await s.listApiKeys('t1', { after: [10, 'k2'], limit: 2 })).map((k) => k.id), ['k0']);
  });
}
