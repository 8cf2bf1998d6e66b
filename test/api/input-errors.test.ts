// Client input is answered with a precise 4xx, never a 5xx, against a real embedded server (test/api/support.ts):
// limits of Infinity and 1e309 (Ajv coerces them to Infinity and then skips minimum/maximum), times JavaScript
// parses but no store takes (year 275760, 1600, inside cursors), cursors holding non-finite numbers or lone
// surrogates, bodies over the limit (413, not 400), response-action bodies that are not objects, lone UTF-16
// surrogates in bodies (a login's e-mail reached the ledger's canonical JSON: 500) and 10,000 levels of nesting.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let host: string;
const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** JSON text with a lone surrogate: JSON.stringify would escape it the same way, spelled out to be sure. */
const LONE = '\\ud800';

before(async () => {
  f = await startFixture();
  host = f.agents[0].identity.agentId;
});
after(async () => f?.stop());

async function expect4xx(method: string, path: string, status: number, o: { body?: unknown; raw?: string; token?: string; code?: string } = {}) {
  const r = await call(f, method, path, { token: o.token ?? f.tokens.admin, body: o.body, raw: o.raw });
  assert.equal(r.status, status, `${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  assert.equal(r.headers.get('content-type')?.split(';')[0], 'application/problem+json');
  if (o.code) assert.equal(r.body.code, o.code, `${method} ${path}: code`);
  assert.ok(typeof r.body.detail === 'string' && r.body.detail.length > 0, `${method} ${path}: a detail says what is wrong`);
  return r;
}

test('limits of Infinity, 1e309, 2^63 and -0 on every list are a 400', async () => {
  const lists = ['/events', '/alerts', '/users', '/api-keys', '/policies', '/ir/actions', `/hosts/${host}/process-tree`];
  for (const list of lists) {
    for (const limit of ['Infinity', '1e309', '-Infinity', '9223372036854775808', '-0', 'NaN']) {
      await expect4xx('GET', `${list}?limit=${limit}`, 400);
    }
  }
  const r = await expect4xx('GET', '/events?limit=1e309', 400, { code: 'invalid_number' });
  assert.match(r.body.detail, /limit/);
  await expect4xx('GET', '/policies/some-policy?version=1e309', 400);
  await expect4xx('GET', '/policies/some-policy?version=9223372036854775808', 400);
});

test('times outside 1900–2299, or not ISO 8601, in from, to, at and before are a 400 naming the parameter', async () => {
  const times = ['+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '1600-01-01T00:00:00Z', '2300-01-01T00:00:00Z', '0', '1e20', 'yesterday'];
  for (const t of times) {
    const q = encodeURIComponent(t);
    for (const path of [`/events?from=${q}`, `/events?to=${q}`, `/alerts?from=${q}`, `/alerts?to=${q}`, `/hosts/${host}/process-tree?at=${q}`, `/ir/actions?before=${q}`]) {
      const r = await expect4xx('GET', path, 400);
      assert.match(r.body.detail, /from|to|at|before/, path);
    }
  }
  const ok = await call(f, 'GET', `/events?from=${encodeURIComponent('2000-01-01T00:00:00Z')}&to=${encodeURIComponent('2299-12-31T23:59:59.999Z')}&limit=1`, { token: f.tokens.admin });
  assert.equal(ok.status, 200, 'the range itself is accepted');
  const alert = await call(f, 'GET', '/alerts?limit=1', { token: f.tokens.admin });
  assert.equal(alert.status, 200);
  await expect4xx('POST', `/alerts/${'a'.repeat(32)}/suppress`, 400, { body: { reason: 'r', until: '+275760-09-13T00:00:00.000Z' } });
});

test('cursors with times no store takes, non-finite numbers or lone surrogates are a 400 invalid_cursor', async () => {
  const bad = [
    cursor(['+275760-09-13T00:00:00.000Z', 'x']), cursor(['-271821-04-20T00:00:00.000Z', 'x']), cursor(['1200-01-01T00:00:00.000Z', 'x']),
    cursor([1e300, 'x']), Buffer.from('[1e309,"x"]').toString('base64url'), Buffer.from(`["2024-01-01T00:00:00.000Z","${LONE}"]`).toString('base64url'),
  ];
  for (const c of bad) {
    for (const list of ['/events', '/alerts']) await expect4xx('GET', `${list}?cursor=${c}`, 400, { code: 'invalid_cursor' });
  }
  for (const c of [Buffer.from('[1e309,"x"]').toString('base64url'), cursor([2 ** 63, 'x']), Buffer.from(`[1,"${LONE}"]`).toString('base64url')]) {
    await expect4xx('GET', `/api-keys?cursor=${c}`, 400, { code: 'invalid_cursor' });
  }
  await expect4xx('GET', `/users?cursor=${Buffer.from(`"${LONE}@x"`).toString('base64url')}`, 400, { code: 'invalid_cursor' });
});

test('a body over the limit is a 413, on the default limit and on a route of its own', async () => {
  await expect4xx('POST', '/alert-sinks', 413, { raw: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1), url: 'https://203.0.113.10/' }), code: 'body_too_large' });
  await expect4xx('PUT', '/policies/big', 413, { raw: JSON.stringify({ document: { a: 'x'.repeat(300 * 1024) } }), code: 'body_too_large' });
});

test('a response action whose body is not a JSON object is a 400; no body is an empty one', async () => {
  for (const raw of ['[1,2]', '"x"', '42', 'null', 'true']) {
    await expect4xx('POST', `/hosts/${host}/isolate`, 400, { raw });
    await expect4xx('POST', `/hosts/${host}/kill-process`, 400, { raw });
  }
  const none = await fetch(`${f.server.httpUrl}/api/v1/hosts/${host}/list-processes`, { method: 'POST', headers: { authorization: `Bearer ${f.tokens.admin}` } });
  assert.equal(none.status, 202, 'a request without a body is still an empty object');
});

test('a lone UTF-16 surrogate in a body is a precise 400, before the ledger or a store sees it', async () => {
  const login = await expect4xx('POST', '/auth/login', 400, { token: '', raw: `{"email":"a${LONE}@default.test","password":"x"}`, code: 'invalid_unicode' });
  assert.match(login.body.detail, /email/);
  await expect4xx('POST', '/auth/login', 400, { token: '', raw: `{"email":"admin@default.test","password":"${LONE}"}`, code: 'invalid_unicode' });
  await expect4xx('POST', '/users', 400, { raw: `{"email":"u@default.test","password":"correct horse battery staple","role":"viewer","${LONE}":1}`, code: 'invalid_unicode' });
  await expect4xx('PUT', '/policies/surrogate', 400, { raw: `{"document":{"k":["${LONE}"]}}`, code: 'invalid_unicode' });
  await expect4xx('POST', `/alerts/${'a'.repeat(32)}/comment`, 400, { raw: `{"text":"${LONE}"}`, code: 'invalid_unicode' });
  // The ledger still verifies: nothing unrepresentable was appended.
  const verify = await call(f, 'POST', '/ledger/verify', { token: f.tokens.admin, body: {} });
  assert.equal(verify.status, 200);
  assert.equal(verify.body.ok, true);
});

test('10,000 levels of nesting and a JSON 1e309 are a 400, and the server stays up', async () => {
  const deep = '['.repeat(10_000) + ']'.repeat(10_000);
  const r = await expect4xx('PUT', '/policies/deep', 400, { raw: `{"document":{"a":${deep}}}`, code: 'too_deep' });
  assert.doesNotMatch(r.body.detail, /call stack/);
  await expect4xx('POST', '/auth/login', 400, { token: '', raw: `{"email":${'['.repeat(1000)}${']'.repeat(1000)},"password":"x"}`, code: 'too_deep' });
  await expect4xx('PUT', '/policies/huge-number', 400, { raw: '{"document":{"n":1e309}}', code: 'invalid_number' });
  await expect4xx('POST', `/hosts/${host}/kill-process`, 400, { raw: '{"pid":1e309,"entity_id":"e"}', code: 'invalid_number' });
  assert.equal((await fetch(`${f.server.httpUrl}/healthz`)).status, 200);
});
