// The console shows the agent's enrichment (issue 22) in Debian's Chromium against a real embedded server
// (test/api/support.ts): a process whose executable was hashed after its start (a process_hash event) shows its
// SHA-256 (a pivot), SHA-1 and MD5, the executable file's size, inode and mtime, and its container and pod on the
// process page and in the exec chain; a dns answer of that process reads "name A → address" in the host
// timeline, and the process_hash event shows its digest there. Screenshots: test-artifacts/enrichment-*.png.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { VigilEvent } from '../../src/schema/event.ts';
import { drained, startFixture, type Fixture } from '../api/support.ts';
import { launchChromium, screenshot, signInWithApiKey } from './browser.ts';

let f: Fixture;
let browser: Browser;
let page: Page;
let hostId: string;
const RUN = Math.random().toString(16).slice(2, 10);
const ENTITY = `ent-enrich-${RUN}`;
const SHA256 = `${RUN}${'5a'.repeat(28)}`;
const POD = '0b7c2c1e-2d4c-4a43-9a3e-5b1c8f2f0d11';
const NAME = `c2-${RUN}.example.net`;

function event(type: VigilEvent['event']['type'], seconds: number, extra: Partial<VigilEvent>): VigilEvent {
  const e = f.agents[0].syntheticEvents(1)[0];
  const start = new Date(Date.now() - 60_000).toISOString();
  return {
    ...e, '@timestamp': new Date(Date.now() - 60_000 + seconds * 1000).toISOString(),
    event: { ...e.event, type, category: type === 'dns' ? 'network' : 'process', action: type === 'dns' ? 'answer' : type === 'process_hash' ? 'hash' : 'exec' },
    process: { pid: 4242, ppid: 1, entity_id: ENTITY, executable: '/opt/app/bin/agentx', name: 'agentx', args: ['agentx', '--serve'], command_line: 'agentx --serve', start },
    ...extra,
  };
}

before(async () => {
  f = await startFixture();
  hostId = f.agents[0].identity.agentId;
  const file = { size: 8_421_376, inode: '1311770', device: '65024', mtime: '2026-11-30T08:15:00.000Z' };
  const start = event('process_start', 0, {});
  start.process!.file = file;
  start.container = { cgroup_id: '9001', id: `${RUN}${'e4'.repeat(28)}`, runtime: 'containerd' };
  start.orchestrator = { type: 'kubernetes', namespace: 'payments', resource: { type: 'pod', name: 'api-7f9c', id: POD } };
  const hashed = event('process_hash', 1, {});
  hashed.process!.hash = { sha256: SHA256, sha1: 'c'.repeat(40), md5: 'd'.repeat(32) };
  hashed.process!.file = file;
  const dns = event('dns', 2, {
    source: { ip: '10.0.3.7', port: 53124 }, destination: { ip: '10.96.0.10', port: 53 }, network: { transport: 'udp', type: 'ipv4', direction: 'outbound' },
    dns: { type: 'answer', id: '4711', response_code: 'NOERROR', header_flags: ['RD', 'RA'], question: { name: NAME, type: 'A' },
      answers: [{ name: NAME, type: 'A', ttl: 30, data: '203.0.113.77' }], resolved_ip: ['203.0.113.77'] },
  });
  const ack = await f.agents[0].send([start, hashed, dns]);
  assert.equal(ack.accepted, 3);
  await drained(f);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  await signInWithApiKey(page, f.server.httpUrl, f.adminKey);
});

after(async () => {
  await browser?.close();
  await f?.stop();
});

test('the process page shows the digests, the executable file and the container of a process hashed after its start', async () => {
  await page.goto(`${f.server.httpUrl}/hosts/${encodeURIComponent(hostId)}/processes/${encodeURIComponent(ENTITY)}`);
  const summary = page.getByRole('row').filter({ hasText: 'SHA-256' }).first();
  await summary.getByText(SHA256).waitFor();
  assert.match(await page.getByRole('row').filter({ hasText: /^SHA-1/ }).innerText(), new RegExp('c'.repeat(40)));
  assert.match(await page.getByRole('row').filter({ hasText: /^MD5/ }).innerText(), new RegExp('d'.repeat(32)));
  assert.match(await page.getByRole('row').filter({ hasText: 'Executable file' }).innerText(), /8,421,376 bytes, inode 1311770 on device 65024, modified/);
  const container = await page.getByRole('row').filter({ hasText: /^Container/ }).innerText();
  assert.match(container, new RegExp(`${RUN}e4e4`));
  assert.match(container, /containerd/i);
  assert.match(container, /pod payments\/api-7f9c/);
  assert.match(await page.getByRole('table', { name: 'Exec chain' }).innerText(), new RegExp(SHA256));
  await screenshot(page, 'enrichment-process');
});

test('a dns answer reads as question and addresses in the host timeline, with its process and the resolver', async () => {
  await page.goto(`${f.server.httpUrl}/hosts/${encodeURIComponent(hostId)}?tab=timeline&type=dns`);
  const row = page.getByRole('table', { name: 'Timeline' }).getByRole('row').filter({ hasText: NAME });
  await row.getByText(`${NAME} A → 203.0.113.77`).waitFor();
  const text = await row.innerText();
  assert.match(text, /dns/);
  assert.match(text, /agentx/);
  assert.match(text, /10\.0\.3\.7:53124 → 10\.96\.0\.10:53/);
  await screenshot(page, 'enrichment-timeline');
  await page.goto(`${f.server.httpUrl}/hosts/${encodeURIComponent(hostId)}?tab=timeline&type=process_hash`);
  await page.getByRole('table', { name: 'Timeline' }).getByRole('row').filter({ hasText: 'process_hash' }).getByText(SHA256.slice(0, 16)).waitFor();
});
