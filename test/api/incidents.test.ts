// Incidents on the embedded server, end to end: a simulated agent sends an attack chain (several alerts on one
// lineage) and an unrelated session under the same sshd (one alert): two incidents. Then the API: list with
// filters, total and cursor; one incident with its alerts, timeline and the response actions on its host; the
// incident of an alert; patch (assignee checked against the tenant's users), notes, close, reopen, moving an
// alert; each change in the ledger with what changed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer } from '../support/embedded-server.ts';
import { eventually } from '../support/vigil-process.ts';
import { SCENARIO_RULE_TITLES, scenarioEvents, writeScenarioRules } from '../incidents/scenario.ts';

let t: TestServer;
let rulesDir: string;

before(async () => {
  rulesDir = writeScenarioRules(mkdtempSync(join(tmpdir(), 'vigil-incident-rules-')));
  t = await TestServer.start('incident-host', { ruleDirs: [rulesDir] });
});
after(async () => {
  await t?.stop();
  rmSync(rulesDir, { recursive: true, force: true });
});

async function ledgerEntries(action: string): Promise<any[]> {
  const out: any[] = [];
  for (let from: number | null = 0; from !== null;) {
    const page = await t.api('GET', `/api/v1/ledger/entries?from=${from}&limit=1000`);
    out.push(...page.body.entries.filter((e: any) => e.action === action));
    from = page.body.next;
  }
  return out;
}

test('an attack chain and an unrelated session under one sshd become two incidents; the API reads and changes them', async () => {
  const host = t.agent.identity.agentId;
  await t.agent.send(scenarioEvents(() => t.agent.syntheticEvents(1)[0], Date.now() - 60_000, 'emb'));
  const listed = await eventually(async () => {
    const r = await t.api('GET', '/api/v1/incidents');
    return r.status === 200 && r.body.total === 2 && r.body.incidents.reduce((n: number, i: any) => n + i.alert_count, 0) === 4 ? r.body : undefined;
  }, 20_000, 'two incidents holding four alerts');
  const attack = listed.incidents.find((i: any) => i.alert_count === 3);
  const admin = listed.incidents.find((i: any) => i.alert_count === 1);
  assert.ok(attack && admin, JSON.stringify(listed));
  assert.equal(attack.severity, 'high');
  assert.equal(attack.status, 'open');
  assert.deepEqual(attack.host_ids, [host]);
  assert.match(attack.title, new RegExp(`^${SCENARIO_RULE_TITLES.netcat} on .+ \\(\\+2 alerts\\)$`));
  assert.equal(admin.severity, 'low');
  assert.match(admin.title, new RegExp(`^${SCENARIO_RULE_TITLES.whoami}`));
  assert.equal('alert_ids' in attack, false, 'list items are summaries');

  // Filters, total and cursor.
  assert.deepEqual((await t.api('GET', '/api/v1/incidents?severity=high')).body.incidents.map((i: any) => i.id), [attack.id]);
  assert.equal((await t.api('GET', `/api/v1/incidents?host=${host}&status=open`)).body.total, 2);
  assert.equal((await t.api('GET', '/api/v1/incidents?host=no-such-host')).body.total, 0);
  const first = (await t.api('GET', '/api/v1/incidents?limit=1')).body;
  assert.equal(first.incidents.length, 1);
  assert.equal(first.total, 2);
  const second = (await t.api('GET', `/api/v1/incidents?limit=1&cursor=${first.next}`)).body;
  assert.equal(second.next, null);
  assert.notEqual(second.incidents[0].id, first.incidents[0].id);
  assert.equal((await t.api('GET', '/api/v1/incidents?status=bogus')).status, 400);
  assert.equal((await t.api('GET', '/api/v1/incidents?cursor=zzz')).status, 400);

  // A response action on the host, requested now: inside the attack's window, so linked by host and time.
  const action = await t.api('POST', `/api/v1/hosts/${host}/list-processes`, {});
  assert.equal(action.status, 202);

  const detail = (await t.api('GET', `/api/v1/incidents/${attack.id}`)).body;
  assert.deepEqual(detail.alerts.map((a: any) => a.rule.title).sort(), [SCENARIO_RULE_TITLES.chmod, SCENARIO_RULE_TITLES.curl, SCENARIO_RULE_TITLES.netcat].sort());
  assert.deepEqual(detail.alerts.map((a: any) => a.process.executable).sort(), ['/usr/bin/chmod', '/usr/bin/curl', '/usr/bin/nc']);
  assert.equal(detail.alert_ids.length, 3);
  const times = detail.timeline.map((e: any) => e.at);
  assert.deepEqual(times, [...times].sort(), 'timeline in time order');
  assert.deepEqual(detail.timeline.filter((e: any) => e.kind === 'event').map((e: any) => e.process.executable), ['/usr/bin/curl', '/usr/bin/chmod', '/usr/bin/nc']);
  assert.equal(detail.timeline.filter((e: any) => e.kind === 'alert').length, 3);
  assert.deepEqual(detail.actions.map((a: any) => [a.id, a.link]), [[action.body.id, 'host_window']]);
  assert.deepEqual(detail.timeline.filter((e: any) => e.kind === 'action').map((e: any) => e.action_id), [action.body.id]);

  // The incident of an alert.
  const nc = detail.alerts.find((a: any) => a.rule.title === SCENARIO_RULE_TITLES.netcat);
  assert.equal((await t.api('GET', `/api/v1/alerts/${nc.id}/incident`)).body.id, attack.id);
  assert.equal((await t.api('GET', '/api/v1/alerts/no-such-alert/incident')).status, 404);
  assert.equal((await t.api('GET', '/api/v1/incidents/no-such-incident')).status, 404);

  // Changes, each in the ledger with what changed.
  const users = (await t.api('GET', '/api/v1/users')).body.users;
  const adminUser = users.find((u: any) => u.email === 'admin@localhost');
  assert.equal((await t.api('PATCH', `/api/v1/incidents/${attack.id}`, { assignee: 'no-such-user' })).body.code, 'unknown_assignee');
  const patched = await t.api('PATCH', `/api/v1/incidents/${attack.id}`, { assignee: adminUser.id, status: 'investigating', severity: 'critical' });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.assignee, adminUser.id);
  assert.equal(patched.body.severity, 'critical');
  assert.equal(patched.body.computed_severity, 'high');
  const [update] = await ledgerEntries('incidents.update');
  assert.equal(update.target, `incident:${attack.id}`);
  assert.deepEqual(update.details.changes.assignee, { from: null, to: adminUser.id });
  assert.deepEqual(update.details.changes.status, { from: 'open', to: 'investigating' });
  assert.deepEqual((await t.api('GET', `/api/v1/incidents?assignee=${adminUser.id}`)).body.incidents.map((i: any) => i.id), [attack.id]);
  assert.deepEqual((await t.api('GET', '/api/v1/incidents?assignee=none')).body.incidents.map((i: any) => i.id), [admin.id]);

  const noted = await t.api('POST', `/api/v1/incidents/${attack.id}/notes`, { text: 'reverse shell to 203.0.113.9' });
  assert.equal(noted.status, 201);
  assert.deepEqual(noted.body.notes.map((n: any) => n.text), ['reverse shell to 203.0.113.9']);

  // The admin's whoami was grouped right; suppose an analyst disagrees and moves it into the attack.
  const whoamiId = (await t.api('GET', `/api/v1/incidents/${admin.id}`)).body.alert_ids[0];
  const moved = await t.api('POST', `/api/v1/incidents/${attack.id}/alerts`, { add: [whoamiId] });
  assert.equal(moved.status, 200);
  assert.equal(moved.body.incident.alert_count, 4);
  const left = (await t.api('GET', `/api/v1/incidents/${admin.id}`)).body;
  assert.equal(left.status, 'closed', 'left without alerts');
  assert.equal(left.alert_count, 0);
  const split = await t.api('POST', `/api/v1/incidents/${attack.id}/alerts`, { remove: [whoamiId] });
  assert.ok(split.body.split_into);
  assert.equal((await t.api('GET', `/api/v1/alerts/${whoamiId}/incident`)).body.id, split.body.split_into);
  assert.equal((await t.api('POST', `/api/v1/incidents/${attack.id}/alerts`, { remove: ['not-in-it'] })).body.code, 'unknown_alert');
  const [move] = await ledgerEntries('incidents.alerts');
  assert.deepEqual(move.details.added, [whoamiId]);
  assert.deepEqual(move.details.closed, [admin.id]);

  assert.equal((await t.api('POST', `/api/v1/incidents/${attack.id}/close`, { disposition: 'maybe', reason: 'x' })).status, 400);
  const closed = await t.api('POST', `/api/v1/incidents/${attack.id}/close`, { disposition: 'true_positive', reason: 'host reimaged' });
  assert.equal(closed.body.status, 'closed');
  assert.equal(closed.body.disposition, 'true_positive');
  assert.equal((await t.api('POST', `/api/v1/incidents/${attack.id}/close`, { disposition: 'benign', reason: 'again' })).status, 409);
  assert.equal((await t.api('PATCH', `/api/v1/incidents/${attack.id}`, { title: 'x' })).status, 409);
  const reopened = await t.api('POST', `/api/v1/incidents/${attack.id}/reopen`, { reason: 'the shell came back' });
  assert.equal(reopened.body.status, 'open');
  assert.equal(reopened.body.disposition, null);
  const [reopen] = await ledgerEntries('incidents.reopen');
  assert.equal(reopen.details.disposition, 'true_positive');
  assert.equal(reopen.details.reason, 'the shell came back');
  assert.equal((await t.api('POST', `/api/v1/incidents/${attack.id}/reopen`, {})).status, 409);

  const linked = await t.api('POST', `/api/v1/incidents/${attack.id}/actions`, { add: [action.body.id] });
  assert.deepEqual(linked.body.action_ids, [action.body.id]);
  assert.deepEqual((await t.api('GET', `/api/v1/incidents/${attack.id}`)).body.actions.map((a: any) => a.link), ['explicit']);
  assert.equal((await t.api('POST', `/api/v1/incidents/${attack.id}/actions`, { add: ['no-such-action'] })).body.code, 'unknown_action');
});
