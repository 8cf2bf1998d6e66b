// bench:ui — the web console measured in Debian's Chromium against a real `vigil up`:
//   dashboard_load_ms   first load of the dashboard in a fresh browser context (cold cache), from navigation
//                       until the agent counts are shown and no panel is still loading (median of 3);
//   tree_5000_render_ms opening a host's process tree of 5,000 nodes (a synthetic tree with PID reuse,
//                       served by intercepting the API request) until its rows are on screen (median of 5);
//   tree_5000_search_ms filtering that tree by a search term until the matching rows are shown (median of 5).
// Prints one JSON object on its last line.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { apiGet, eventually, startVigil } from '../test/support/vigil-process.ts';
import { launchChromium } from '../test/web/browser.ts';

const TREE_NODES = 5_000;

interface SyntheticNode { entity_id: string; pid: number; ppid: number; parent_entity_id: string | null; exe: string; cmdline: string;
  start_ts: string; exit_ts: string | null; exit_code: number | null; uid: number; gid: number; user_name: string; sha256: string | null;
  mitre: string[]; gtfobins: string[]; children: SyntheticNode[] }

/** A tree of `count` processes, up to 8 children each and 12 levels deep; every 50th PID is reused by a later process. */
function syntheticTree(count: number): SyntheticNode[] {
  const exes = ['/usr/bin/bash', '/usr/bin/python3', '/usr/sbin/nginx', '/usr/bin/curl', '/usr/lib/systemd/systemd', '/usr/bin/node'];
  const all: SyntheticNode[] = [];
  const depth = new Map<SyntheticNode, number>();
  const start = Date.parse('2026-11-23T10:00:00Z');
  for (let i = 0; i < count; i++) {
    const parent = i === 0 ? null : all[Math.floor(Math.pow(Math.random(), 2) * i)];
    const usable = parent && (depth.get(parent)! < 12 && parent.children.length < 8) ? parent : all[0] ?? null;
    const exe = exes[i % exes.length];
    const pid = i % 50 === 49 ? all[i - 40].pid : 1000 + i;
    const node: SyntheticNode = {
      entity_id: `bench-${i.toString(36).padStart(6, '0')}`, pid, ppid: usable?.pid ?? 0, parent_entity_id: usable?.entity_id ?? null,
      exe, cmdline: `${exe} --worker ${i} --config /etc/bench/${i % 97}.conf`, start_ts: new Date(start + i * 1000).toISOString(),
      exit_ts: null, exit_code: null, uid: i % 3 ? 1000 : 0, gid: i % 3 ? 1000 : 0, user_name: i % 3 ? 'app' : 'root', sha256: null,
      mitre: i % 500 === 7 ? ['T1059.004'] : [], gtfobins: [], children: [],
    };
    usable?.children.push(node);
    depth.set(node, usable ? depth.get(usable)! + 1 : 0);
    all.push(node);
  }
  return [all[0]];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function signedInPage(browser: Browser, baseUrl: string, apiKey: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript((key) => sessionStorage.setItem('vigil.credential', JSON.stringify({ kind: 'api-key', key })), apiKey);
  return context.newPage();
}

async function dashboardLoadMs(browser: Browser, baseUrl: string, apiKey: string): Promise<number> {
  const page = await signedInPage(browser, baseUrl, apiKey);
  const t0 = performance.now();
  await page.goto(`${baseUrl}/`);
  await page.locator('[data-stat="Agents online"]').filter({ hasText: /^\d+$/ }).waitFor();
  await page.waitForFunction(`!document.querySelector('[data-state="loading"]')`);
  const ms = performance.now() - t0;
  await page.context().close();
  return ms;
}

async function treeTimings(browser: Browser, baseUrl: string, apiKey: string, hostId: string): Promise<{ render: number[]; search: number[] }> {
  const page = await signedInPage(browser, baseUrl, apiKey);
  const body = JSON.stringify({ host_id: hostId, at: new Date().toISOString(), live: true, count: TREE_NODES, roots: syntheticTree(TREE_NODES) });
  await page.route('**/api/v1/hosts/*/process-tree*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body }));
  await page.goto(`${baseUrl}/hosts/${hostId}`);
  await page.getByRole('tab', { name: 'Process tree' }).waitFor();
  const render: number[] = [];
  const search: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Inventory' }).waitFor();
    const t0 = performance.now();
    await page.getByRole('tab', { name: 'Process tree' }).click();
    await page.locator(`[role="tree"][data-rows="${TREE_NODES}"] [role="treeitem"]`).first().waitFor();
    render.push(performance.now() - t0);
    const t1 = performance.now();
    await page.getByLabel('Search processes').fill('--worker 4321 ');
    await page.locator('[role="treeitem"]', { hasText: '--worker 4321 ' }).waitFor();
    search.push(performance.now() - t1);
  }
  await page.context().close();
  return { render, search };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ui-'));
  const vigil = await startVigil(['up', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], dir);
  const browser = await launchChromium().catch(async (err) => { await vigil.stop('SIGTERM'); throw err; });
  try {
    const hostId = await eventually(async () => (await apiGet(vigil, '/api/v1/hosts')).hosts[0]?.id as string | undefined, 20_000, 'the local agent');
    const loads: number[] = [];
    for (let i = 0; i < 3; i++) loads.push(await dashboardLoadMs(browser, vigil.apiUrl, vigil.apiKey));
    const tree = await treeTimings(browser, vigil.apiUrl, vigil.apiKey, hostId);
    console.log(`dashboard loads (ms): ${loads.map(Math.round).join(', ')}`);
    console.log(`5,000-node tree renders (ms): ${tree.render.map(Math.round).join(', ')}; searches (ms): ${tree.search.map(Math.round).join(', ')}`);
    console.log(JSON.stringify({
      bench: 'ui', dashboard_load_ms: Math.round(median(loads)), tree_5000_render_ms: Math.round(median(tree.render)),
      tree_5000_search_ms: Math.round(median(tree.search)),
    }));
  } finally {
    await browser.close();
    await vigil.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
