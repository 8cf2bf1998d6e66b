// Cursor paging of the management lists against a real embedded server: users, API keys, tenants and
// policies walk page by page (`limit`, opaque `next`) to the same items as one big page; a forged cursor, a
// cursor of another list's shape and a limit over 1000 are 400s.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, startFixture, type Fixture } from './support.ts';

let f: Fixture;

before(async () => {
  f = await startFixture();
  for (const name of ['k-one', 'k-two', 'k-three']) {
    assert.equal((await call(f, 'POST', '/api-keys', { token: f.tokens.admin, body: { name, role: 'viewer' } })).status, 201);
  }
  for (const name of ['gamma', 'alpha', 'beta']) {
    assert.equal((await call(f, 'PUT', `/policies/${name}`, { token: f.tokens.admin, body: { document: { name } } })).status, 200);
  }
  for (const id of ['zz-tenant', 'aa-tenant']) {
    assert.equal((await call(f, 'POST', '/tenants', { token: f.tokens.super, body: { id, name: id } })).status, 201);
  }
});

after(() => f.stop());

/** Every item of a list, walked `limit` at a time; also checks the last page says `next: null`. */
async function walk(path: string, field: string, token: string, limit: number): Promise<{ items: unknown[]; pages: number }> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await call(f, 'GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body[field].length <= limit);
    items.push(...r.body[field]);
    cursor = r.body.next;
    pages++;
  } while (cursor !== null);
  return { items, pages };
}

const lists = [
  { path: '/users', field: 'users', token: 'admin', key: 'email' },
  { path: '/api-keys', field: 'api_keys', token: 'admin', key: 'id' },
  { path: '/tenants', field: 'tenants', token: 'super', key: 'id' },
  { path: '/policies', field: 'policies', token: 'admin', key: 'name' },
];

for (const l of lists) {
  test(`${l.path} pages join into the whole list, in order, without repeats`, async () => {
    const whole = await call(f, 'GET', l.path, { token: f.tokens[l.token] });
    assert.equal(whole.status, 200);
    assert.equal(whole.body.next, null);
    const all = whole.body[l.field] as Record<string, unknown>[];
    assert.ok(all.length >= 3, `${l.path} has ${all.length} items`);
    const walked = await walk(l.path, l.field, f.tokens[l.token], 2);
    assert.deepEqual((walked.items as Record<string, unknown>[]).map((x) => x[l.key]), all.map((x) => x[l.key]));
    assert.equal(walked.pages, Math.ceil(all.length / 2));
  });
}

test('users of another tenant page too (super-admin, ?tenant=)', async () => {
  const walked = await walk('/users?tenant=other', 'users', f.tokens.super, 1);
  assert.deepEqual((walked.items as { email: string }[]).map((u) => u.email), ['admin@other.test']);
});

test('bad paging input is a precise 400', async () => {
  const bad = async (path: string, token = f.tokens.admin) => {
    const r = await call(f, 'GET', path, { token });
    assert.equal(r.status, 400, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { detail?: string };
  };
  assert.match((await bad('/users?cursor=not-a-cursor')).detail ?? '', /invalid cursor/);
  const textCursor = Buffer.from(JSON.stringify('a@x.io')).toString('base64url');
  assert.match((await bad(`/api-keys?cursor=${textCursor}`)).detail ?? '', /invalid cursor/);
  const tupleCursor = Buffer.from(JSON.stringify([1, 'x'])).toString('base64url');
  assert.match((await bad(`/policies?cursor=${tupleCursor}`)).detail ?? '', /invalid cursor/);
  await bad('/tenants?limit=1001', f.tokens.super);
  await bad('/users?limit=0');
  await bad('/api-keys?offset=3');
});
