// The web console end to end in Debian's Chromium against a real `vigil up`: sign in with the admin API
// key, see the local host, find a process this test started in the host's process tree and open its
// details; acknowledge an alert raised by a test process; upload a rule with an error and see the error; add
// and delete an alert sink.
// Tests whose endpoint this server does not have yet are skipped, naming the endpoint. Screenshots of each
// main page go to test-artifacts/.

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { apiGet, eventually, startVigil, type VigilProcess } from '../support/vigil-process.ts';
import { launchChromium, screenshot, signInWithApiKey } from './browser.ts';

let dir: string;
let vigil: VigilProcess;
let browser: Browser;
let page: Page;
let hostId: string;
const children: ChildProcess[] = [];

/** Starts a long-lived process on this host; it is killed after the tests. */
function startProcess(exe: string, args: string[]): ChildProcess {
  const child = spawn(exe, args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** Skips the test (saying which endpoint is missing) when the server has no route for it. */
async function requireEndpoint(t: TestContext, path: string, method = 'GET'): Promise<boolean> {
  const res = await fetch(`${vigil.apiUrl}${path}`, {
    method, headers: { authorization: `Bearer ${vigil.apiKey}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    body: method === 'POST' ? '{}' : undefined,
  });
  if (res.status !== 404) return true;
  t.skip(`${method} ${path.split('?')[0]} is not on this server yet`);
  return false;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  browser = await launchChromium();
  vigil = await startVigil(['up', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], dir);
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000); // below the tests' timeouts, so a failing step names itself
  const { hosts } = await eventually(async () => {
    const r = await apiGet(vigil, '/api/v1/hosts');
    return r.hosts.length ? r : undefined;
  }, 20_000, 'the local agent to enrol');
  hostId = hosts[0].id;
  await signInWithApiKey(page, vigil.apiUrl, vigil.apiKey);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  await vigil?.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('signed in with the API key: the dashboard, the local host, a test process in its tree', { timeout: 60_000 }, async () => {
  const marker = `vigil-ui-${randomBytes(4).toString('hex')}`;
  const exe = join(dir, marker);
  copyFileSync('/bin/sleep', exe);
  const proc = startProcess(exe, ['120']);

  await page.getByText('Agents online').waitFor();
  await page.locator('[data-stat="Agents online"]', { hasText: '1' }).waitFor();
  await screenshot(page, 'dashboard');

  await page.getByRole('link', { name: 'Hosts' }).click();
  const hosts = page.getByRole('table', { name: 'Hosts' });
  const hostname = (await apiGet(vigil, `/api/v1/hosts/${hostId}`)).hostname as string;
  await hosts.getByRole('row', { name: new RegExp(hostname) }).waitFor();
  await screenshot(page, 'hosts');

  await hosts.getByRole('row', { name: new RegExp(hostname) }).click();
  await page.getByRole('heading', { name: hostname }).waitFor();
  await screenshot(page, 'host-overview');
  await page.getByRole('tab', { name: 'Process tree' }).click();
  await page.getByTestId('tree-summary').waitFor();

  // The agent reports the process within seconds; refresh the live tree until the search finds it.
  await page.getByLabel('Search processes').fill(marker);
  const row = page.getByRole('treeitem').filter({ hasText: marker });
  await eventually(async () => {
    if (await row.count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(500);
    return undefined;
  }, 30_000, `the process ${marker} in the tree`);
  assert.match(await row.innerText(), new RegExp(String(proc.pid)));
  await screenshot(page, 'process-tree');

  await row.click();
  const details = page.getByTestId('process-details');
  await details.waitFor();
  assert.match(await details.innerText(), new RegExp(`${marker} 120`));
  await details.getByText('process_start').waitFor(); // its own events, one click away
  await page.waitForTimeout(300); // the drawer's slide-in
  await screenshot(page, 'process-details');
  await page.keyboard.press('Escape');
});

test('acknowledge an alert raised by a test process', { timeout: 60_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/alerts'))) return;
  // A shell copied as `nc` and run with -c matches the built-in netcat reverse-shell rule.
  const nc = join(dir, 'nc');
  copyFileSync('/bin/sh', nc);
  startProcess(nc, ['-c', 'sleep 60; true']);
  const alert = await eventually(async () => {
    const r = await apiGet(vigil, `/api/v1/alerts?host=${hostId}&status=open`);
    return r.alerts.find((a: any) => /netcat/i.test(a.rule.title));
  }, 30_000, 'the netcat alert');

  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: alert.rule.title }) }).first();
  await row.waitFor();
  await screenshot(page, 'alerts');
  await row.getByRole('button', { name: 'Acknowledge' }).click();
  await eventually(async () => {
    const a = await apiGet(vigil, `/api/v1/alerts/${alert.id}`);
    return a.status === 'acknowledged' ? a : undefined;
  }, 10_000, 'the alert to be acknowledged');
  await row.getByText('acknowledged').waitFor();

  await row.getByRole('link', { name: alert.rule.title }).click();
  await page.getByTestId('rule-author').filter({ hasText: alert.rule.author }).waitFor();
  await screenshot(page, 'alert-detail');
});

test('upload a rule with an error and see the error', { timeout: 30_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/rules'))) return;
  await page.getByRole('link', { name: 'Rules' }).click();
  await page.getByRole('table', { name: 'Rules' }).waitFor();
  await screenshot(page, 'rules');
  await page.getByRole('button', { name: 'Upload Sigma rule' }).click();
  await page.getByLabel('Sigma rule YAML').fill('title: Broken rule\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /x\n  condition: sel and missing\n');
  await page.getByRole('button', { name: 'Save rule' }).click();
  const errors = page.getByTestId('rule-errors');
  await errors.waitFor();
  assert.match(await errors.innerText(), /line 7: .*missing/, 'the compile error names the line and the undefined identifier');
  await screenshot(page, 'rule-upload-error');
  await page.keyboard.press('Escape');
});

test('every other main page renders without a crash', { timeout: 30_000 }, async () => {
  const pages = [['Hunt', 'Hunt', 'hunt'], ['Audit', 'Audit ledger', 'audit'], ['Response', 'Response actions', 'response'],
    ['Settings', 'Settings', 'settings'], ['MITRE tactics', 'MITRE ATT&CK tactics', 'mitre']] as const;
  for (const [link, heading, name] of pages) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
    await page.waitForFunction(`!document.querySelector('[data-state="loading"]')`);
    assert.equal(await page.getByText('This page failed to render').count(), 0, `${link} rendered without an error`);
    await screenshot(page, name);
  }
});

test('add and delete an alert sink in Settings; its secret is not shown', { timeout: 30_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/alert-sinks'))) return;
  const secret = `secret-${randomBytes(12).toString('hex')}`;
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('tab', { name: 'Alert sinks' }).click();
  await page.getByRole('textbox', { name: /^Name/ }).fill('SOC webhook');
  await page.getByRole('textbox', { name: /^Webhook URL/ }).fill('https://203.0.113.10/hook');
  await page.getByLabel(/^HMAC secret/).fill(secret);
  await page.getByRole('button', { name: 'Add alert sink' }).click();
  const table = page.getByRole('table', { name: 'Alert sinks' });
  const row = table.getByRole('row').filter({ hasText: 'SOC webhook' });
  await row.waitFor();
  assert.match(await row.innerText(), /https:\/\/203\.0\.113\.10\/hook\s+yes/);
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown');
  await screenshot(page, 'settings-alert-sinks');
  page.once('dialog', (d) => { void d.accept(); });
  await row.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('No alert sinks yet.').waitFor();
});

test('collect a file from the host on its Response tab, then download it with its hash verified', { timeout: 60_000 }, async () => {
  const content = `vigil console artefact ${randomBytes(8).toString('hex')}\n`;
  const path = join(dir, 'evidence.txt');
  writeFileSync(path, content);
  const sha256 = createHash('sha256').update(content).digest('hex');
  await page.goto(`${vigil.apiUrl}/hosts/${hostId}`);
  await page.getByRole('tab', { name: 'Response' }).click();
  await page.getByRole('button', { name: 'Collect file' }).click();
  await page.getByRole('textbox', { name: /^Path on the host/ }).fill(path);
  await page.getByRole('dialog').getByRole('button', { name: 'Collect file' }).click();
  await page.getByText('Action requested').waitFor();
  await eventually(async () => {
    const { actions } = await apiGet(vigil, `/api/v1/ir/actions?host_id=${hostId}`);
    return actions.find((a: any) => a.action === 'get_file' && a.status === 'succeeded');
  }, 30_000, 'the get_file action to succeed');
  await page.getByRole('link', { name: 'Response' }).click();
  const row = page.getByRole('table', { name: 'Response actions' }).getByRole('row').filter({ hasText: path });
  const download = page.waitForEvent('download');
  await row.getByRole('button', { name: 'Download' }).click();
  assert.equal(readFileSync(await (await download).path(), 'utf8'), content, 'the downloaded bytes are the file');
  await row.getByText(`sha256 ${sha256}`).waitFor();
  assert.match(await row.innerText(), /hash verified/);
  await screenshot(page, 'response');
});

test('password sign-in: a wrong password is refused, the right one signs in; sign out returns to the login', { timeout: 30_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/auth/login', 'POST'))) return;
  const password = readFileSync(join(dir, 'admin-password'), 'utf8').trim();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('textbox', { name: /^E-mail/ }).fill('admin@localhost');
  await page.getByRole('textbox', { name: /^Password/ }).fill(`${password}-wrong`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong e-mail or password.' }).waitFor();
  await screenshot(page, 'login-refused');
  await page.getByRole('textbox', { name: /^Password/ }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('admin@localhost (admin)').waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
});
