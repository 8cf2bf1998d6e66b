// The console's threat-intelligence, AI-usage and risk views in Debian's Chromium against a real embedded server
// (test/api/support.ts; the console built into web/dist): an uploaded list shows its format, counts and last load,
// and a list added through the page's dialog appears; the AI-usage page shows the service card and the host, user,
// service and executable row of a connection the agent reported, and switches the policy; the host page shows the
// risk score with its parts; the dashboard's top hosts by risk names the host. Screenshots: test-artifacts/intel-*.png.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { call, startFixture, type Fixture } from '../api/support.ts';
import { launchChromium, screenshot, signInWithApiKey } from '../web/browser.ts';

let f: Fixture;
let browser: Browser;
let page: Page;
let hostId: string;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  f = await startFixture();
  const agent = f.agents[0];
  hostId = agent.identity.agentId;
  const list = await call(f, 'POST', '/intel/lists', { token: f.adminKey, body: { name: 'Partner C2 feed', format: 'csv', content: 'value,type,confidence\n127.0.0.88,ip,90\nbad.example.org,domain,70\n0000,,\n' } });
  assert.equal(list.status, 201);
  const [resolve, connect, c2] = agent.syntheticEvents(3);
  Object.assign(resolve.event, { type: 'dns', category: 'network', action: 'answer' });
  Object.assign(resolve, { dns: { type: 'answer', question: { name: 'api.openai.com', type: 'A' }, resolved_ip: ['192.0.2.55'] }, destination: { ip: '127.0.0.53', port: 53 } });
  Object.assign(connect.event, { type: 'network_connection', category: 'network' });
  Object.assign(connect, { process: resolve.process, user: resolve.user, destination: { ip: '192.0.2.55', port: 443 }, source: { ip: '10.0.0.2', port: 50123 } });
  Object.assign(c2.event, { type: 'network_connection', category: 'network' });
  Object.assign(c2, { destination: { ip: '127.0.0.88', port: 4444 }, source: { ip: '127.0.0.1', port: 50124 } });
  await agent.send([resolve, connect, c2]);
  await until('the usage row and the intel alert', async () => {
    const usage = (await call(f, 'GET', '/ai-usage', { token: f.adminKey })).body.usage;
    const alerts = (await call(f, 'GET', `/alerts?host=${hostId}&limit=100`, { token: f.adminKey })).body.alerts;
    return usage?.some((u: any) => u.connections > 0) && alerts?.some((a: any) => a.rule.id.startsWith('intel:'));
  }, 60_000);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await signInWithApiKey(page, f.server.httpUrl, f.adminKey);
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await f?.stop();
});

test('threat intel page: lists with counts and last load; a list added through the dialog', async () => {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Threat intel' }).click();
  const row = page.locator('tr[data-list="Partner C2 feed"]');
  await row.waitFor();
  assert.equal(await row.getByTestId('indicators').textContent(), '2');
  assert.match(await row.textContent() ?? '', /CSV.*uploaded.*2.*1.*ago.*loaded \(v1\)/);
  await page.getByRole('button', { name: 'Add list' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill('Analyst STIX');
  await page.getByRole('dialog').getByLabel('Format', { exact: true }).click();
  await page.getByRole('option', { name: 'STIX 2.1 bundle' }).click();
  await page.getByRole('dialog').getByLabel('Content').fill(JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [{ type: 'indicator', spec_version: '2.1', id: 'indicator--1', pattern: "[domain-name:value = 'evil.example.net'] OR [ipv4-addr:value = '198.51.100.0/24']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z', confidence: 80 }] }));
  await page.getByRole('dialog').getByRole('button', { name: 'Add list' }).click();
  const added = page.locator('tr[data-list="Analyst STIX"]');
  await added.waitFor();
  assert.equal(await added.getByTestId('indicators').textContent(), '2');
  await screenshot(page, 'intel-lists');
});

test('AI usage page: the service, host, user and executable; the policy switch', async () => {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'AI usage' }).click();
  const card = page.locator('[data-service="openai"]');
  await card.waitFor();
  assert.match(await card.textContent() ?? '', /OpenAI \(ChatGPT, API\)1 host · 1 user/);
  const table = page.getByRole('table', { name: 'AI-service usage' });
  assert.match(await table.textContent() ?? '', /own-host.*OpenAI \(ChatGPT, API\).*\/usr\/bin\//);
  await page.getByText('Record and alert').click();
  await until('the policy stored', async () => (await call(f, 'GET', '/ai-usage/policy', { token: f.adminKey })).body.policy === 'alert');
  await screenshot(page, 'intel-ai-usage');
  await page.getByText('Record', { exact: true }).click();
  await until('the policy back', async () => (await call(f, 'GET', '/ai-usage/policy', { token: f.adminKey })).body.policy === 'record');
});

test('host page: the risk score and its parts; dashboard: top hosts by risk', async () => {
  const detail = (await call(f, 'GET', `/hosts/${hostId}`, { token: f.adminKey })).body;
  await page.goto(`${f.server.httpUrl}/hosts/${hostId}`);
  const card = page.getByTestId('risk');
  await card.waitFor();
  assert.equal(await page.getByTestId('risk-score').textContent(), String(detail.risk.score));
  assert.match(await card.textContent() ?? '', /Base.*weighted alerts.*MITRE.*Recency.*× 1/);
  await screenshot(page, 'intel-host-risk');
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Dashboard' }).click();
  const top = page.getByRole('table').filter({ hasText: 'Risk' }).first();
  await top.waitFor();
  assert.match(await top.textContent() ?? '', new RegExp(`own-host${String(detail.risk.score).replace('.', '\\.')}`));
  await screenshot(page, 'intel-dashboard');
});
