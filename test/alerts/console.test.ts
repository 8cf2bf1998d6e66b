// The console's alert-sink page and the alert page's deliveries, in Chromium (playwright-core) against `vigil up`
// with its local agent and private sink targets allowed: add a webhook sink (its secret is never shown), test it,
// watch a real alert (a shell copied as `nc`, the built-in netcat rule) fail at a receiver on 127.0.0.1, open
// the sink's breaker (health on the page), recover, and show as delivered on the alert page; edit the sink; add a
// syslog sink with its own form; delete. Screenshots in test-artifacts/ (alert-sinks*.png, alert-deliveries.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { apiGet, eventually, startVigil, type VigilProcess } from '../support/vigil-process.ts';
import { launchChromium, screenshot, signInWithApiKey } from '../web/browser.ts';

const SECRET = 'console-sink-secret-5f3a9c';
let dir: string;
let vigil: VigilProcess;
let browser: Browser;
let page: Page;
let receiver: Server;
let hookUrl = '';
let failing = true;
let posts = 0;
const children: ChildProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-sinks-web-'));
  receiver = createServer((req, res) => { posts++; req.resume(); req.on('end', () => res.writeHead(failing ? 503 : 204).end()); });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/soc`;
  browser = await launchChromium();
  vigil = await startVigil(['up', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--allow-private-alert-sinks'], dir);
  page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  page.setDefaultTimeout(15_000);
  await eventually(async () => ((await apiGet(vigil, '/api/v1/hosts')).hosts.length ? true : undefined), 20_000, 'the local agent to enrol');
  await signInWithApiKey(page, vigil.apiUrl, vigil.apiKey);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  await vigil?.stop('SIGTERM');
  receiver.closeAllConnections();
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

test('alert sinks in the console: add, test, breaker and health, deliveries on the alert page, edit, syslog form, delete', { timeout: 120_000 }, async () => {
  await page.getByRole('link', { name: 'Alert sinks', exact: true }).click();
  await page.getByRole('heading', { level: 2, name: 'Alert sinks' }).waitFor();
  await page.getByText('No alert sinks yet').waitFor();
  await page.getByRole('button', { name: 'Add alert sink' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Name' }).fill('SOC webhook');
  await dialog.getByRole('textbox', { name: 'Target URL' }).fill(hookUrl);
  await dialog.getByLabel(/^HMAC secret/).fill(SECRET);
  await screenshot(page, 'alert-sinks-add');
  await dialog.getByRole('button', { name: 'Add alert sink' }).click();
  const row = page.locator('tr[data-sink="SOC webhook"]');
  await row.waitFor();
  assert.match(await row.innerText(), /Webhook \(signed JSON\)[\s\S]*Vigil JSON[\s\S]*every alert[\s\S]*breaker closed/i);
  assert.equal(await page.getByText(SECRET).count(), 0, 'the secret is not shown');

  // Test: the receiver fails now, and the page says so.
  await row.getByRole('button', { name: 'Test' }).click();
  await page.getByTestId('test-result').filter({ hasText: 'HTTP 503' }).waitFor();
  failing = false;
  await row.getByRole('button', { name: 'Test' }).click();
  await page.getByTestId('test-result').filter({ hasText: 'Test alert delivered to SOC webhook' }).waitFor();

  // A real alert while the receiver fails: retried, then the breaker opens (5 failures in a row).
  failing = true;
  const nc = join(dir, 'nc');
  copyFileSync('/bin/sh', nc);
  for (let i = 0; i < 6; i++) children.push(spawn(nc, ['-c', `sleep ${30 + i}; true`], { stdio: 'ignore' }));
  const alerts = await eventually(async () => {
    const r = await apiGet(vigil, '/api/v1/alerts?status=open');
    const nca = r.alerts.filter((a: any) => /netcat/i.test(a.rule.title));
    return nca.length ? nca : undefined;
  }, 40_000, 'the netcat alerts');
  await eventually(async () => {
    const s = (await apiGet(vigil, '/api/v1/alert-sinks')).alert_sinks[0];
    return s.health.breaker === 'open' || s.health.failures >= 2 ? s : undefined;
  }, 60_000, 'failures recorded');
  await row.locator('[data-testid="queue"]').filter({ hasText: /Queued [1-9]/ }).waitFor({ timeout: 20_000 });
  await row.getByText(/Last error .*HTTP 503/).waitFor();
  await screenshot(page, 'alert-sinks-failing');

  // The alert page shows the delivery retrying, then delivered once the receiver recovers.
  // Repeats of the rule on this host inside the window are recorded as suppressed: open the one being retried.
  const retried = await eventually(async () => {
    for (const a of alerts) {
      const d = (await apiGet(vigil, `/api/v1/alerts/${encodeURIComponent(a.id)}/deliveries`)).deliveries;
      if (d.some((x: any) => x.state === 'pending')) return a;
    }
    return undefined;
  }, 20_000, 'an alert whose delivery is retrying');
  assert.ok(alerts.length === 1 || (await Promise.all(alerts.map(async (a: any) => (await apiGet(vigil, `/api/v1/alerts/${encodeURIComponent(a.id)}/deliveries`)).deliveries)))
    .flat().some((x: any) => x.state === 'suppressed'), 'repeats on the host are suppressed');
  await page.goto(`${vigil.apiUrl}/alerts/${encodeURIComponent(retried.id)}`);
  const deliveries = page.getByRole('table', { name: 'Deliveries' });
  await deliveries.getByText('SOC webhook').waitFor();
  await deliveries.locator('[data-delivery-state="pending"]').waitFor();
  failing = false;
  await deliveries.locator('[data-delivery-state="delivered"]').waitFor({ timeout: 60_000 });
  assert.match(await deliveries.innerText(), /SOC webhook\s*webhook\s*delivered\s*\d+/i);
  await screenshot(page, 'alert-deliveries');

  // Edit: a filter and a name; the secret stays set.
  await page.getByRole('link', { name: 'Alert sinks', exact: true }).click();
  await row.getByRole('button', { name: 'Edit' }).click();
  await dialog.getByRole('textbox', { name: 'Name' }).fill('SOC webhook (high+)');
  await dialog.getByLabel('Minimum severity').click();
  await page.getByRole('option', { name: 'high', exact: true }).click();
  await dialog.getByRole('button', { name: 'Save' }).click();
  const edited = page.locator('tr[data-sink="SOC webhook (high+)"]');
  await edited.getByText('≥ high').waitFor();
  await edited.getByText('secret set').waitFor();
  await edited.locator('[data-breaker="closed"]').waitFor({ timeout: 60_000 });

  // A syslog sink has its own fields (TLS: a CA), and CEF by default.
  await page.getByRole('button', { name: 'Add alert sink' }).click();
  await dialog.getByLabel('Type', { exact: true }).click();
  await page.getByRole('option', { name: 'Syslog (RFC 5424)' }).click();
  await dialog.getByRole('textbox', { name: 'Name' }).fill('SIEM syslog');
  await dialog.getByRole('textbox', { name: 'Target URL' }).fill('tls://127.0.0.1:6514');
  await dialog.getByText('Trusted CA (PEM, optional)').waitFor();
  assert.equal(await dialog.getByLabel('Format', { exact: true }).inputValue(), 'ArcSight CEF');
  await screenshot(page, 'alert-sinks-syslog-form');
  await dialog.getByRole('button', { name: 'Add alert sink' }).click();
  await page.locator('tr[data-sink="SIEM syslog"]').waitFor();
  await edited.getByRole('button', { name: 'Deliveries' }).click();
  await page.getByRole('table', { name: 'Sink deliveries' }).locator('[data-delivery-state="delivered"]').first().waitFor();
  await screenshot(page, 'alert-sinks-deliveries');
  await page.keyboard.press('Escape');
  await screenshot(page, 'alert-sinks');
  page.once('dialog', (d) => { void d.accept(); });
  await page.locator('tr[data-sink="SIEM syslog"]').getByRole('button', { name: 'Delete' }).click();
  await page.locator('tr[data-sink="SIEM syslog"]').waitFor({ state: 'detached' });
  assert.ok(posts >= 3);
});
