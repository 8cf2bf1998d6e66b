// No credential reaches the server's log. A real embedded server logs through Vigil's own logger (src/cli/log.ts,
// at info: every request is logged) into memory while the web console, in Debian's Chromium, signs in with an API
// key and with a password and opens its live stream (a single-use ticket, never the credential, in the URL), and
// while a client puts credentials where they do not belong: `?access_token=`, `?api_key=`, a webhook URL with a
// token in its query or a password in it, a wrong password. Connection URLs with passwords (in the user part or as
// `?password=`) and Node's invalid-URL errors (whose `input` is the whole URL) are logged as the roles would log them. Then no API key, access or
// refresh token, ticket, scrape token, password or URL password appears anywhere in the log, while the requests
// themselves are there (path and query parameter names).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { createLogger } from '../../src/cli/log.ts';
import { launchChromium, signInWithApiKey } from '../web/browser.ts';
import { call, login, PASSWORD, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let browser: Browser;
let logText = '';
const sink = new Writable({ write(chunk, _enc, done) { logText += chunk.toString(); done(); } });
/** Secrets the test has seen; none may be in the log. */
const secrets = new Map<string, string>();
const remember = (what: string, value: string | undefined | null) => { if (value) secrets.set(value, what); };

before(async () => {
  f = await startFixture({ log: createLogger('vigil', sink), allowPrivateAlertSinks: true });
  browser = await launchChromium();
  remember('admin API key', f.adminKey);
  remember('metrics token', f.server.metricsToken);
  remember('password', PASSWORD);
  for (const [role, token] of Object.entries(f.tokens)) remember(`${role} access token`, token);
});
after(async () => {
  await browser?.close();
  await f?.stop();
});

/** Opens the console signed in (`signIn`), waits until its live stream is open; remembers the tickets it used. */
async function liveConsole(signIn: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(20_000);
  page.on('request', (r) => {
    const url = new URL(r.url());
    remember('stream ticket', url.searchParams.get('ticket'));
    remember('credential in a URL', url.searchParams.get('access_token'));
  });
  const stream = page.waitForResponse((r) => r.url().includes('/api/v1/stream?') && r.status() === 200);
  await signIn(page);
  await stream;
  await page.getByTitle('Live updates').filter({ hasText: 'live' }).waitFor();
  return page;
}

test('the console opens its live stream with a ticket: neither the ticket nor any credential is logged', { timeout: 90_000 }, async () => {
  const keyPage = await liveConsole((page) => signInWithApiKey(page, f.server.httpUrl, f.adminKey));
  const sessionPage = await liveConsole(async (page) => {
    await page.goto(`${f.server.httpUrl}/`);
    await page.getByRole('textbox', { name: 'E-mail' }).fill('analyst@default.test');
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  });
  const session = await sessionPage.evaluate(() => JSON.parse(sessionStorage.getItem('vigil.credential') ?? 'null') as { accessToken: string; refreshToken: string });
  remember('console access token', session.accessToken);
  remember('console refresh token', session.refreshToken);
  assert.ok([...secrets.values()].includes('stream ticket'), 'the console used a ticket');
  assert.ok(![...secrets.values()].includes('credential in a URL'), 'the console put no credential in a URL');
  await keyPage.close();
  await sessionPage.close();
});

test('credentials a client puts in URLs, webhook URLs and wrong passwords are not logged either', async () => {
  const { access_token: token, refresh_token: refresh } = await login(f, 'viewer@default.test');
  remember('viewer access token', token);
  remember('viewer refresh token', refresh);
  const base = `${f.server.httpUrl}/api/v1`;
  assert.equal((await fetch(`${base}/stream?access_token=${token}`)).status, 401);
  assert.equal((await fetch(`${base}/hosts?api_key=${f.adminKey}&token=${token}`)).status, 401);
  assert.equal((await fetch(`${base}/hosts?access_token=${token}`, { headers: { authorization: `Bearer ${f.adminKey}` } })).status, 200);
  remember('webhook token', 'webhook-token-Zq8x1');
  remember('webhook password', 'webhook-password-Kd93');
  const sink = await call(f, 'POST', '/alert-sinks', { token: f.adminKey, body: { name: 'hook', url: 'http://127.0.0.1:9/hook?token=webhook-token-Zq8x1', secret: 'sink-hmac-secret-77' } });
  assert.equal(sink.status, 201, JSON.stringify(sink.body));
  remember('webhook secret', 'sink-hmac-secret-77');
  const refused = await call(f, 'POST', '/alert-sinks', { token: f.adminKey, body: { name: 'pw', url: 'http://u:webhook-password-Kd93@127.0.0.1:9/hook' } });
  assert.equal(refused.status, 400);
  remember('wrong password', 'wrong-password-Pq71');
  assert.equal((await call(f, 'POST', '/auth/login', { body: { email: 'viewer@default.test', password: 'wrong-password-Pq71' } })).status, 401);
  assert.equal((await call(f, 'POST', '/auth/refresh', { body: { refresh_token: refresh } })).status, 200);
});

test('connection URLs with passwords and invalid-URL errors are logged without the password', () => {
  const log = createLogger('vigil-role', sink);
  remember('postgres password', 'pg-password-Vb27');
  remember('redis password', 'redis-password-Lm55');
  remember('nats password', 'nats-password-Tt10');
  let invalid: unknown;
  try { new URL('redis://:redis-password-Lm55@[bad'); } catch (err) { invalid = err; }
  log.error({ err: invalid }, 'rate limits: Redis unreachable');
  log.error({ err: new Error('connect failed: postgres://vigil:pg-password-Vb27@db:5432/vigil') }, 'metadata store failed');
  log.info({ config: { postgres: 'postgres://vigil:pg-password-Vb27@db:5432/vigil', nats: 'nats://u:nats-password-Tt10@nats:4222', redis: 'redis://:redis-password-Lm55@redis:6379' } }, 'settings');
  remember('libpq password parameter', 'pg-query-password-Hs44');
  remember('webhook query token', 'hook-query-token-Yy61');
  log.info({ sink: { url: 'https://hooks.example/services/T1?token=hook-query-token-Yy61' }, postgres: 'postgres://vigil@db/vigil?password=pg-query-password-Hs44' }, 'more settings');
  log.error({ err: new Error('cannot connect to postgres://vigil@db/vigil?sslmode=require&password=pg-query-password-Hs44') }, 'metadata store failed');
  assert.match(logText, /postgres:\/\/vigil:\[REDACTED\]@db:5432\/vigil/, 'the URL is still there, without its password');
});

test('the log has the requests, and no secret', () => {
  assert.match(logText, /"url":"\/api\/v1\/stream\?ticket=\[REDACTED\]"/, 'the stream requests are logged, without their ticket');
  assert.match(logText, /"url":"\/api\/v1\/hosts\?api_key=\[REDACTED\]&token=\[REDACTED\]"/);
  assert.doesNotMatch(logText, /"authorization"/i, 'no Authorization header');
  const found = [...secrets].filter(([value]) => logText.includes(value)).map(([, what]) => what);
  assert.deepEqual(found, [], `secrets in the log (${logText.length} bytes)`);
  assert.ok(secrets.size >= 15, `${secrets.size} secrets checked`);
});
