// The audit ledger says what happened, and a tenant's view accounts for its gaps (a real embedded server):
// a hunt is recorded with its SQL, row count and time (and a refused one with why); rule changes with the rule
// ids and the text's digest; entries recorded without a tenant (login calls, refused credentials) are listed as
// tenant `_anonymous` to the platform's tenant and the super-admin, with the reason; every page says which
// index range it read and how many entries of it are outside the view, so index gaps never look like deletions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { call, drained, startFixture, type Fixture } from './support.ts';

let f: Fixture;
before(async () => {
  f = await startFixture();
  await drained(f);
});
after(async () => f.stop());

interface Entry { index: number; actor: string; tenant_id: string; action: string; outcome: string; request_id: string; details?: Record<string, any> }

/** Every entry the caller sees (with `tenant` when given), page by page, checking each page's accounting. */
async function all(token: string, tenant?: string): Promise<{ entries: Entry[]; hidden: number; end: number }> {
  const entries: Entry[] = [];
  let hidden = 0;
  let from = 0;
  for (;;) {
    const r = await call(f, 'GET', `/ledger/entries?from=${from}&limit=50${tenant ? `&tenant=${tenant}` : ''}`, { token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.range.from, from);
    assert.equal(r.body.entries.length + r.body.hidden, r.body.range.to - r.body.range.from, 'each index of the range is shown or counted hidden');
    if (r.body.hidden > 0) assert.match(r.body.hidden_reason, /other tenants' entries and entries recorded without a tenant/);
    for (const e of r.body.entries) assert.ok(e.index >= r.body.range.from && e.index < r.body.range.to);
    entries.push(...r.body.entries);
    hidden += r.body.hidden;
    if (r.body.next === null) return { entries, hidden, end: r.body.range.to };
    assert.equal(r.body.next, r.body.range.to);
    from = r.body.next;
  }
}

test('a hunt is recorded with its SQL, row count and elapsed time; a refused hunt with its reason', async () => {
  const sql = 'SELECT event_id FROM telemetry_events ORDER BY event_id';
  const r = await call(f, 'POST', '/hunt', { token: f.tokens.analyst, body: { sql, limit: 3 } });
  assert.equal(r.status, 200);
  const refused = await call(f, 'POST', '/hunt', { token: f.tokens.analyst, body: { sql: 'DROP TABLE telemetry_events' } });
  assert.equal(refused.status, 400);
  const hunts = (await all(f.adminKey)).entries.filter((e) => e.action === 'hunt.query');
  const ok = hunts.find((e) => e.details?.sql === sql)!;
  assert.ok(ok, 'the hunt is in the ledger');
  assert.equal(ok.outcome, 'success');
  assert.match(ok.actor, /^user:/);
  assert.equal(ok.tenant_id, 'default');
  assert.deepEqual([ok.details!.rows, ok.details!.truncated, ok.details!.sql_chars], [3, true, sql.length]);
  assert.equal(ok.details!.sql_sha256, createHash('sha256').update(sql).digest('hex'));
  assert.equal(typeof ok.details!.elapsed_ms, 'number');
  const bad = hunts.find((e) => e.details?.sql === 'DROP TABLE telemetry_events')!;
  assert.deepEqual([bad.outcome, bad.details!.code], ['failure', 'hunt_not_select']);
});

test('rule changes carry the rule ids and the digest of the text written or removed', async () => {
  const text = `title: ledger audit rule\nid: 3f1e2d4c-5b6a-4789-9abc-00000000ad01\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /ledger-audit-tool\n  condition: sel\nlevel: low\n`;
  assert.equal((await call(f, 'POST', '/rules', { token: f.adminKey, body: { yaml: text } })).status, 201);
  assert.equal((await call(f, 'DELETE', '/rules/3f1e2d4c-5b6a-4789-9abc-00000000ad01', { token: f.adminKey })).status, 200);
  const entries = (await all(f.adminKey)).entries;
  const digest = createHash('sha256').update(text).digest('hex');
  const created = entries.find((e) => e.action === 'rules.create' && e.details?.ids?.includes('3f1e2d4c-5b6a-4789-9abc-00000000ad01'))!;
  assert.equal(created.details!.sha256, digest);
  const deleted = entries.find((e) => e.action === 'rules.delete' && e.details?.ids?.includes('3f1e2d4c-5b6a-4789-9abc-00000000ad01'))!;
  assert.equal(deleted.details!.removed_sha256, digest);
});

test('entries without a tenant: listed as _anonymous with a reason to the platform\'s tenant and the super-admin only', async () => {
  const failed = await call(f, 'POST', '/auth/login', { body: { email: 'nobody@default.test', password: 'not the password at all' } });
  assert.equal(failed.status, 401);
  const r = await call(f, 'GET', '/ledger/entries?tenant=_anonymous&limit=1000', { token: f.adminKey });
  assert.equal(r.status, 200);
  assert.equal(r.body.scope, '_anonymous');
  assert.match(r.body.scope_reason, /without a tenant: .*login/);
  assert.ok(r.body.entries.length > 0);
  for (const e of r.body.entries as Entry[]) assert.deepEqual([e.tenant_id, e.actor], ['', 'anonymous']);
  assert.ok((r.body.entries as Entry[]).some((e) => e.action === 'api.post /api/v1/auth/login' && e.outcome === 'denied'), 'the refused login call is there');

  assert.equal((await call(f, 'GET', '/ledger/entries?tenant=_anonymous', { token: f.tokens.super })).status, 200);
  assert.equal((await call(f, 'GET', '/ledger/entries?tenant=_anonymous', { token: f.tokens.foreign })).status, 403, 'another tenant\'s admin does not read them');
  assert.equal((await call(f, 'GET', '/ledger/entries?tenant=other', { token: f.adminKey })).status, 403);
  const theirs = await call(f, 'GET', '/ledger/entries?tenant=other&limit=1000', { token: f.tokens.super });
  assert.ok(theirs.body.entries.length > 0 && theirs.body.entries.every((e: Entry) => e.tenant_id === 'other'));
  const own = await call(f, 'GET', '/ledger/entries?tenant=default&limit=5', { token: f.adminKey });
  assert.equal(own.body.scope, 'default');
});

test('a tenant\'s gaps are exactly the other scopes\' entries', async () => {
  const mine = await all(f.adminKey);
  const everything = await all(f.tokens.super);
  assert.equal(everything.hidden, 0, 'the super-admin sees every entry');
  const end = Math.min(mine.end, everything.end);
  const others = everything.entries.filter((e) => e.index < end && e.tenant_id !== 'default').length;
  const ownHere = mine.entries.filter((e) => e.index < end).length;
  assert.equal(ownHere + others, end, 'every index is an entry of this tenant or of another scope');
  assert.ok(mine.hidden >= others, `${mine.hidden} hidden, ${others} of other scopes before index ${end}`);
  const verify = await call(f, 'POST', '/ledger/verify', { token: f.adminKey, body: {} });
  assert.equal(verify.body.ok, true);
});
