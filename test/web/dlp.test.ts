// The console's Data protection page in Debian's Chromium against a real embedded server (test/api/support.ts):
// a protected data set uploaded through the API is listed with its columns, rows and fingerprint count; an agent's
// DLP finding that became an alert is listed with its severity, policy, detector, match count, masked excerpts,
// file and technique; the upload dialog reads a CSV's header and proposes column types. Screenshots:
// test-artifacts/dlp-*.png.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { call, drained, startFixture, type Fixture } from '../api/support.ts';
import { syntheticCsv } from '../fixtures/dlp/synthetic.ts';
import { launchChromium, screenshot, signInWithApiKey } from './browser.ts';

let f: Fixture;
let browser: Browser;
let page: Page;
let dir: string;

before(async () => {
  f = await startFixture();
  dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-web-'));
  const up = await call(f, 'POST', '/dlp/datasets', { token: f.adminKey, body: { name: 'customers', columns: [{ name: 'email', type: 'email' }, { name: 'card', type: 'card' }], csv: syntheticCsv(5_000) } });
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const [base] = f.agents[0].syntheticEvents(1);
  const finding = {
    ...base, event: { ...base.event, type: 'file_write' as const, category: 'file', action: 'dlp_match' }, file: { path: '/srv/share/q4-export.csv' },
    dlp: { policy: 'dlp-finance', rule: 'payment_card', kind: 'detector' as const, matches: 3, confidence: 95, excerpts: ['4539********1486', '5425********9903'], bytes_scanned: 106, action: 'alert' as const, severity: 'high' as const },
    threat: { mitre: ['T1048'] },
  };
  assert.equal((await f.agents[0].send([finding])).accepted, 1);
  await drained(f);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  await signInWithApiKey(page, f.server.httpUrl, f.adminKey);
});

after(async () => {
  await browser?.close();
  await f?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the page lists the protected data set and the DLP finding with masked excerpts', async () => {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Data protection' }).click();
  const set = page.locator('[data-dataset="customers"]');
  await set.waitFor();
  assert.equal((await set.getByTestId('fingerprints').textContent())?.replace(/\D/g, ''), '10000');
  assert.match((await set.textContent()) ?? '', /email: email.*card: card/);
  const finding = page.getByRole('table', { name: 'DLP findings' }).locator('tbody tr').first();
  await finding.waitFor({ timeout: 30_000 });
  const text = (await finding.textContent()) ?? '';
  for (const part of ['high', 'dlp-finance', 'payment_card', '4539********1486', '/srv/share/q4-export.csv', 'T1048']) assert.ok(text.includes(part), `${part} in ${text}`);
  await screenshot(page, 'dlp-page');
});

test('the upload dialog reads the header and proposes types', async () => {
  const file = join(dir, 'staff.csv');
  writeFileSync(file, 'full_name,work_email,badge\nAnna Smith,anna@corp.io,B-1001\n');
  await page.getByRole('button', { name: 'Protect a data set' }).click();
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Choose a CSV…' }).click();
  await (await chooser).setFiles(file);
  await page.getByLabel('type of full_name', { exact: true }).first().waitFor();
  assert.equal(await page.getByLabel('type of full_name', { exact: true }).first().inputValue(), 'name');
  assert.equal(await page.getByLabel('type of work_email', { exact: true }).first().inputValue(), 'e-mail');
  assert.equal(await page.getByLabel('type of badge', { exact: true }).first().inputValue(), 'not protected');
  await screenshot(page, 'dlp-upload');
  await page.getByRole('button', { name: 'Fingerprint and keep' }).click();
  await page.locator('[data-dataset="staff"]').waitFor();
  assert.equal((await page.locator('[data-dataset="staff"]').getByTestId('fingerprints').textContent())?.trim(), '2');
});
