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

test('Settings: a new enrolment token shows the API\'s install command verbatim and the agent endpoint', { timeout: 30_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/enrollment-tokens'))) return;
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('tab', { name: 'Enrolment tokens' }).click();
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/enrollment-tokens') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Create enrolment token' }).click();
  const token = await (await answer).json();
  await page.getByTestId('enrolment-token').waitFor();
  if (token.install_command === undefined) { t.skip('POST /enrollment-tokens answers no install_command on this server yet'); return; }
  assert.ok(token.install_command, 'an embedded server knows its endpoint and CA');
  assert.equal(await page.getByTestId('install-command').innerText(), token.install_command, 'the command shown is the API\'s, character for character');
  assert.equal(await page.getByTestId('agent-endpoint').innerText(), token.agent_endpoint);
  assert.equal(await page.getByText('--enroll-token').count(), 0, 'the old, wrong option is gone');
  await page.getByRole('button', { name: 'Copy install command' }).waitFor();
  await screenshot(page, 'settings-enrolment-token');
});

test('MITRE page: the counts per technique are GET /stats/mitre\'s, for open+acknowledged and for all statuses', { timeout: 30_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/stats/mitre'))) return;
  for (const status of ['open,acknowledged', 'all']) {
    await page.goto(`${vigil.apiUrl}/mitre${status === 'all' ? '?status=all' : ''}`);
    const stats = await apiGet(vigil, `/api/v1/stats/mitre?status=${status}`);
    assert.ok(stats.techniques.length > 0, 'the netcat alert carries a technique');
    await page.locator(`[data-testid="mitre-summary"][data-alerts="${stats.alerts}"]`).waitFor();
    const shown = await page.locator('[data-tactic]').evaluateAll((cards) => cards.map((c) => ({
      tactic: c.getAttribute('data-tactic'),
      techniques: [...c.querySelectorAll('[data-technique]')].map((x) => ({ id: x.getAttribute('data-technique'), alerts: Number(x.querySelector('[data-count]')?.getAttribute('data-count')) })),
    })));
    assert.deepEqual(shown, stats.tactics.map((x: any) => ({ tactic: x.name, techniques: x.techniques.map((y: any) => ({ id: y.id, alerts: y.alerts })) })),
      `tactics in the API's (kill-chain) order, each technique with the API's count (${status})`);
    await screenshot(page, status === 'all' ? 'mitre-all' : 'mitre');
  }
  // A technique's count opens the alerts of the rule carrying it.
  const first = page.locator('[data-technique]').first();
  const id = await first.getAttribute('data-technique');
  await first.locator('[data-count]').click();
  const item = page.getByRole('menuitem').filter({ hasText: /netcat/i }).first();
  await item.waitFor();
  await page.waitForTimeout(300); // the menu's fade-in
  await screenshot(page, 'mitre-technique-menu');
  await item.click();
  await page.waitForURL(/\/alerts\?rule=/);
  assert.ok(id);
});

test('Rules: coverage badges and totals are the API\'s; the filter keeps the rules needing an uncollected log', { timeout: 60_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/rules'))) return;
  // A rule for a log Vigil does not collect (auditd), so the filter has something to keep.
  const added = await fetch(`${vigil.apiUrl}/api/v1/rules`, { method: 'POST', headers: { authorization: `Bearer ${vigil.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ yaml: 'title: Auditd execve of nc\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n    a0: nc\n  condition: sel\nlevel: low\n' }) });
  assert.equal(added.status, 201, await added.text());
  const list = await apiGet(vigil, '/api/v1/rules');
  if (!list.coverage) { t.skip('GET /rules has no coverage on this server yet'); return; }
  assert.ok(list.coverage.not_collected >= 1);
  await page.goto(`${vigil.apiUrl}/rules`);
  const table = page.getByRole('table', { name: 'Rules' });
  await table.waitFor();
  const netcat = list.rules.find((r: any) => /netcat/i.test(r.title));
  const row = table.getByRole('row').filter({ hasText: netcat.title });
  assert.equal(await row.locator('[data-coverage]').getAttribute('data-coverage'), netcat.coverage);
  for (const k of ['collected', 'partial', 'not_collected']) {
    assert.match(await page.locator(`[data-total="${k}"]`).innerText(), new RegExp(`^${list.coverage[k]} `), `the ${k} total is the API's`);
  }
  await screenshot(page, 'rules-coverage');
  await page.locator('input[aria-label="Coverage"]').click();
  await page.getByRole('option', { name: 'Needs a log source Vigil does not collect' }).click();
  await page.waitForURL(/coverage=not_collected/);
  const expected = list.rules.filter((r: any) => r.coverage === 'not_collected');
  // The URL changes before the table re-renders with the filter: wait for the filtered rows.
  let rows = -1;
  for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    rows = await table.locator('tbody tr').count();
    if (rows === expected.length) break;
  }
  assert.equal(rows, expected.length, 'only the not-collected rules are listed');
  const auditd = table.getByRole('row').filter({ hasText: 'Auditd execve of nc' });
  assert.equal(await auditd.locator('[data-coverage]').getAttribute('data-coverage'), 'not_collected');
  assert.match(await auditd.getByTestId('coverage-reason').innerText(), /auditd/);
  await screenshot(page, 'rules-not-collected');
});

test('Rules: a dry run shows the scan summary; one stopped at its budget says how much it read', { timeout: 60_000 }, async (t) => {
  if (!(await requireEndpoint(t, '/api/v1/rules'))) return;
  await page.goto(`${vigil.apiUrl}/rules`);
  await page.getByRole('button', { name: 'Upload Sigma rule' }).click();
  await page.getByLabel('Sigma rule YAML').fill('title: Sleep started\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /sleep\n  condition: sel\nlevel: low\n');
  await page.getByLabel('Hours to test against').fill('2');
  await page.getByLabel('Test budget in seconds').fill('20');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/rules/test'));
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  const res = await answer;
  const body = JSON.parse(res.request().postData() ?? '{}');
  assert.deepEqual([body.hours, body.budget_seconds], [2, 20], 'the range and budget chosen are sent');
  const result = await res.json();
  if (!result.scan) { t.skip('POST /rules/test answers no scan on this server yet'); return; }
  const shown = page.getByTestId('rule-test-result');
  await shown.waitFor();
  assert.equal(await page.getByTestId('rule-test-summary').innerText(), result.scan.summary);
  assert.equal(await shown.getAttribute('data-complete'), String(result.scan.complete));
  await screenshot(page, 'rule-test-complete');

  // The same dialog with an answer that stopped at its budget after 20 minutes of a 24 h range (served by the test).
  const to = new Date();
  const from = new Date(to.getTime() - 24 * 3_600_000);
  const coveredFrom = new Date(to.getTime() - 20 * 60_000);
  const summary = `0 matches in 30000 events scanned; stopped at the 1 s budget: only ${coveredFrom.toISOString()} – ${to.toISOString()} of ${from.toISOString()} – ${to.toISOString()} was read`;
  await page.route('**/api/v1/rules/test', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({
    matches: 0, events_tested: 30000, alerts: [], alerts_truncated: false,
    scan: { from: from.toISOString(), to: to.toISOString(), events_scanned: 30000, pages: 3, event_types: ['process_start', 'memfd_exec'], complete: false,
      stopped_at_budget: true, covered_from: coveredFrom.toISOString(), budget_seconds: 1, elapsed_ms: 1004, oldest_event: coveredFrom.toISOString(), newest_event: to.toISOString(), summary },
  }) }));
  await page.getByLabel('Hours to test against').fill('24');
  await page.getByLabel('Test budget in seconds').fill('1');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await shown.and(page.locator('[data-stopped-at-budget="true"]')).waitFor();
  const text = await shown.innerText();
  assert.match(text, /Stopped at the 1 s budget: only the last 20 min of 24 h were read/);
  assert.match(text, /were not searched/);
  assert.doesNotMatch(text, /whole/, 'never claims the whole range');
  await screenshot(page, 'rule-test-budget');
  await page.unroute('**/api/v1/rules/test');
  await page.keyboard.press('Escape');
});

test('Host Response tab: kill a running process picked from the list (no entity id typed)', { timeout: 60_000 }, async () => {
  const marker = `vigil-kill-${randomBytes(4).toString('hex')}`;
  const exe = join(dir, marker);
  copyFileSync('/bin/sleep', exe);
  const proc = startProcess(exe, ['300']);
  await page.goto(`${vigil.apiUrl}/hosts/${hostId}?tab=response`);
  await page.getByLabel('Search processes to kill').fill(marker);
  const table = page.getByRole('table', { name: 'Running processes' });
  const row = table.getByRole('row').filter({ hasText: marker });
  await eventually(async () => {
    if (await row.count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(500);
    return undefined;
  }, 30_000, `the process ${marker} in the running processes`);
  const entityId = await row.getAttribute('data-entity-id');
  await screenshot(page, 'host-response-kill-list');
  await row.getByRole('button', { name: 'Kill' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(`pid ${proc.pid}`).waitFor();
  await dialog.getByRole('textbox', { name: /^Reason/ }).fill('test: kill the picked process');
  await page.waitForTimeout(300); // the dialog's fade-in
  await screenshot(page, 'host-response-kill-dialog');
  await dialog.getByRole('button', { name: 'Kill process' }).click();
  await page.getByTestId('response-requested').waitFor();
  const action = await eventually(async () => {
    const { actions } = await apiGet(vigil, `/api/v1/ir/actions?host_id=${hostId}`);
    return actions.find((a: any) => a.action === 'kill_process' && a.params?.pid === proc.pid);
  }, 10_000, 'the kill_process action');
  assert.equal(action.params.entity_id, entityId, 'the picked process\'s entity id was sent');
  await page.keyboard.press('Escape');
});

test('Audit: entries without a tenant are listed on request; the tenant view says how many of its range are outside it', { timeout: 30_000 }, async (t) => {
  // A refused login is recorded without a tenant (actor anonymous).
  await fetch(`${vigil.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@example.test', password: 'wrong-password-1' }) });
  const anon = await fetch(`${vigil.apiUrl}/api/v1/ledger/entries?tenant=_anonymous&limit=1000`, { headers: { authorization: `Bearer ${vigil.apiKey}` } });
  if (anon.status === 400 || anon.status === 404) { t.skip('GET /ledger/entries?tenant= is not on this server yet'); return; }
  const anonymous = await anon.json() as { entries: unknown[] };
  assert.ok(anonymous.entries.length > 0, 'the refused login is an entry without a tenant');
  const size = (await apiGet(vigil, '/api/v1/ledger/checkpoint')).size as number;
  await page.goto(`${vigil.apiUrl}/audit`);
  const range = page.getByTestId('ledger-range');
  await range.waitFor();
  // The page shows the newest window of 50 indexes; the API's count of that window's hidden entries is the page's.
  const from = Math.max(0, (Math.ceil(size / 50) - 1) * 50);
  const mine = await apiGet(vigil, `/api/v1/ledger/entries?from=${from}&limit=50`);
  const inWindow = mine.entries.filter((e: any) => e.index < from + 50).length;
  const to = Math.min(mine.range.to, from + 50);
  assert.match(await range.innerText(), new RegExp(`: ${inWindow} shown; ${to - from - inWindow} outside this view`));
  await screenshot(page, 'audit-tenant-view');
  await page.getByText('Entries without a tenant (logins, refused credentials)').click();
  await page.waitForURL(/tenant=_anonymous/);
  await page.getByTestId('ledger-scope-reason').waitFor();
  const rows = page.getByRole('table', { name: 'Ledger entries' }).getByRole('row').filter({ hasText: 'api.post /api/v1/auth/login' });
  await rows.first().waitFor();
  await screenshot(page, 'audit-anonymous');
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

test('collect a file from the host on its Response tab, then download it with its hash verified', { timeout: 60_000 }, async () => {
  const content = `vigil console artefact ${randomBytes(8).toString('hex')}\n`;
  const path = join(dir, 'evidence.txt');
  writeFileSync(path, content);
  const sha256 = createHash('sha256').update(content).digest('hex');
  await page.goto(`${vigil.apiUrl}/hosts/${hostId}`);
  await page.getByRole('tab', { name: 'Response' }).click();
  await page.getByRole('button', { name: 'Collect file' }).click();
  await page.getByRole('textbox', { name: /^Path on the host/ }).fill(path);
  await page.getByRole('textbox', { name: /^Reason/ }).fill('test: collect the evidence file');
  await page.getByRole('dialog').getByRole('button', { name: 'Collect file' }).click();
  await page.getByText('Action requested').waitFor();
  await eventually(async () => {
    const { actions } = await apiGet(vigil, `/api/v1/ir/actions?host_id=${hostId}`);
    return actions.find((a: any) => a.action === 'get_file' && a.status === 'succeeded');
  }, 30_000, 'the get_file action to succeed');
  await page.getByRole('link', { name: 'Response', exact: true }).click();
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
