// The console's user sessions in Debian's Chromium against a real embedded server (test/api/support.ts: real
// SQLite, chdb, ledger; simulated agents sending events): an analyst with TOTP MFA enrolled through the API
// signs in on the login page with password and code; the session keeper refreshes the short-lived access
// token (63 s here) before it expires and later calls carry the new token; a Hunt query shows the agents'
// events as rows; Settings lists users a page (100) at a time, "More users" reading the next page. Screenshots go
// to test-artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { base32Decode, totp } from '../../src/identity/totp.ts';
import { call, drained, login, startFixture, type Fixture } from '../api/support.ts';
import { launchChromium, screenshot, signInWithApiKey } from './browser.ts';

const ACCESS_TTL_S = 63; // the console refreshes 60 s before expiry: here after about 3 s
const EMAIL = 'mfa-analyst@default.test';
const PASSWORD = 'correct horse battery staple';

interface StoredSession { accessToken: string; refreshToken: string; expiresAt: number }

let f: Fixture;
let browser: Browser;
let page: Page;
let totpSecret: Uint8Array;

before(async () => {
  f = await startFixture({ security: { accessTokenTtlSeconds: ACCESS_TTL_S } });
  const created = await call(f, 'POST', '/users', { token: f.adminKey, body: { email: EMAIL, password: PASSWORD, role: 'analyst' } });
  assert.equal(created.status, 201);
  const { access_token: token } = await login(f, EMAIL);
  const enrol = await call(f, 'POST', '/auth/totp/enroll', { token });
  assert.equal(enrol.status, 200);
  totpSecret = base32Decode(enrol.body.secret);
  const confirm = await call(f, 'POST', '/auth/totp/confirm', { token, body: { secret: enrol.body.secret, code: totp(totpSecret, Date.now()), current_password: PASSWORD } });
  assert.equal(confirm.status, 204, JSON.stringify(confirm.body));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await f?.stop();
});

const storedSession = (): Promise<StoredSession> =>
  page.evaluate(() => JSON.parse(sessionStorage.getItem('vigil.credential') ?? 'null') as StoredSession);

test('MFA sign-in on the login page: password, then the authenticator code', { timeout: 60_000 }, async () => {
  await page.goto(`${f.server.httpUrl}/`);
  await page.getByRole('textbox', { name: 'E-mail' }).fill(EMAIL);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Enter the 6-digit code' }).waitFor();
  await screenshot(page, 'login-mfa-code');
  // The confirmation used the current step; a step is accepted once, so sign in with the next one (±1 is allowed).
  await page.getByRole('textbox', { name: 'Authentication code' }).fill(totp(totpSecret, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  const session = await storedSession();
  assert.ok(session.accessToken && session.refreshToken);
  const me = await call(f, 'GET', '/auth/me', { token: session.accessToken });
  assert.equal(me.status, 200);
  assert.equal(me.body.mfa_enrolled, true);
  await screenshot(page, 'signed-in-after-mfa');
});

test('the session keeper refreshes the access token before it expires; later calls use the new one', { timeout: 60_000 }, async () => {
  const before = await storedSession();
  const refreshed = await page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh'), { timeout: 20_000 });
  const refreshedAt = Date.now();
  assert.equal(refreshed.status(), 200);
  assert.ok(refreshedAt < before.expiresAt, `refreshed ${before.expiresAt - refreshedAt} ms before expiry`);
  await page.waitForFunction((old) => !(sessionStorage.getItem('vigil.credential') ?? '').includes(old), before.accessToken);
  const after = await storedSession();
  assert.notEqual(after.accessToken, before.accessToken);
  assert.notEqual(after.refreshToken, before.refreshToken, 'refresh tokens rotate');
  const next = page.waitForRequest((r) => r.url().includes('/api/v1/hosts') && r.headers().authorization !== undefined);
  await page.getByRole('link', { name: 'Hosts' }).click();
  const auth = (await next).headers().authorization;
  const current = await storedSession();
  assert.equal(auth, `Bearer ${current.accessToken}`);
  assert.notEqual(current.accessToken, before.accessToken);
  await page.getByRole('table', { name: 'Hosts' }).getByRole('row', { name: /own-host/ }).waitFor();
  await screenshot(page, 'hosts-after-refresh');
});

test('Hunt: a query over the agents\' events shows rows', { timeout: 60_000 }, async () => {
  await drained(f);
  await page.getByRole('link', { name: 'Hunt' }).click();
  await page.getByRole('textbox', { name: 'SQL' }).fill('SELECT host_id, event_type, timestamp FROM telemetry_events ORDER BY timestamp DESC LIMIT 25');
  await page.getByRole('button', { name: /^Run/ }).click();
  const table = page.getByRole('table', { name: 'Hunt results' });
  await table.waitFor();
  await page.getByText(/\d+ rows? in \d+ ms/).waitFor();
  const rows = table.locator('tbody tr');
  assert.ok(await rows.count() > 0, 'the query returned rows');
  assert.deepEqual(await table.locator('thead th').allTextContents(), ['host_id', 'event_type', 'timestamp']);
  const hosts = await call(f, 'GET', '/hosts', { token: f.adminKey });
  const own = hosts.body.hosts.map((h: { id: string }) => h.id) as string[];
  for (const text of await rows.locator('td:first-child').allTextContents()) assert.ok(own.includes(text), `${text} is a host of this tenant`);
  await screenshot(page, 'hunt-results');
});

test('Settings lists users a page at a time; "More users" reads the rest', { timeout: 90_000 }, async () => {
  for (let i = 0; i < 100; i++) {
    const r = await call(f, 'POST', '/users', { token: f.adminKey, body: { email: `bulk-${String(i).padStart(3, '0')}@default.test`, password: PASSWORD, role: 'viewer' } });
    assert.equal(r.status, 201);
  }
  const total = (await call(f, 'GET', '/users?limit=1000', { token: f.adminKey })).body.users.length as number;
  assert.ok(total > 100);
  const admin = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    admin.setDefaultTimeout(15_000);
    await signInWithApiKey(admin, f.server.httpUrl, f.adminKey);
    await admin.getByRole('link', { name: 'Settings', exact: true }).click();
    await admin.getByRole('tab', { name: 'Users and roles' }).click();
    const rows = admin.getByRole('table', { name: 'Users' }).locator('tbody tr');
    await rows.nth(99).waitFor();
    assert.equal(await rows.count(), 100);
    await admin.getByRole('button', { name: 'More users' }).click();
    await rows.nth(total - 1).waitFor();
    assert.equal(await rows.count(), total);
    await admin.getByRole('button', { name: 'More users' }).waitFor({ state: 'detached' });
    const emails = await rows.locator('td:first-child').allTextContents();
    assert.equal(new Set(emails).size, total, 'no user twice');
    await screenshot(admin, 'settings-users-paged');
  } finally {
    await admin.close();
  }
});
