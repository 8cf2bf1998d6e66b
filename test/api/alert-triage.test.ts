// The alert list an analyst works and exceptions, through the API of a real embedded server: exact totals, the
// host filter by name, group_by with hostnames as labels and its own cursor, bulk triage over a filter (bounded
// answer, foreign tenant untouched) and the one ledger entry that says what it changed, single triage entries with
// what changed, exceptions created, changed and deleted with their content in the ledger, refusals.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alerts.ts';
import { call, drained, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let host: string;
let hostname: string;
const RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001';
const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s)).toISOString();
const admin = (method: string, path: string, body?: unknown) => call(f, method, path, { token: f.adminKey, body });

function alert(i: number, o: Partial<Alert> = {}): Alert {
  return {
    id: `triage-${String(i).padStart(4, '0')}`, tenant_id: 'default', host_id: host, process_entity_id: `proc-${i % 3}`,
    rule: { id: i % 2 ? RULE : 'other-rule', title: i % 2 ? 'Netcat Reverse Shell' : 'Other', level: i % 5 === 0 ? 'critical' : 'medium', references: [], type: 'single' },
    mitre: [], events: [{ event: { id: `ev-${i}`, type: 'process_start' }, process: { executable: `/bin/tool${i % 3}`, command_line: `tool${i % 3} --run` } }],
    event_ids: [`ev-${i}`], first_seen: at(i % 60), last_seen: at(i % 60), occurrences: 1, ...o,
  };
}

async function ledgerEntry(requestId: string | null): Promise<any> {
  for (let from: number | null = 0; from !== null;) {
    const page = await admin('GET', `/ledger/entries?from=${from}&limit=1000`);
    const hit = page.body.entries.find((e: any) => e.request_id === requestId && e.outcome !== 'started');
    if (hit) return hit;
    from = page.body.next;
  }
  return undefined;
}

before(async () => {
  f = await startFixture();
  await drained(f);
  host = f.agents[0].identity.agentId;
  hostname = (await admin('GET', `/hosts/${host}`)).body.hostname;
  await f.server.detection.alerts.write(Array.from({ length: 30 }, (_, i) => alert(i)));
  await f.server.detection.alerts.write([{ ...alert(99), id: 'foreign-alert', tenant_id: 'other' }]);
});
after(async () => f?.stop());

test('the list counts exactly, filters by host name as by id, and groups with labels and a cursor of its own', async () => {
  const all = await admin('GET', '/alerts?limit=7');
  assert.deepEqual([all.status, all.body.alerts.length, all.body.total], [200, 7, 30]);
  const second = await admin('GET', `/alerts?limit=7&cursor=${all.body.next}`);
  assert.equal(second.body.total, 30, 'the total does not depend on the page');
  assert.equal((await admin('GET', `/alerts?host=${encodeURIComponent(hostname)}&severity=critical`)).body.total, 6);
  assert.equal((await admin('GET', `/alerts?host=${host}&severity=critical`)).body.total, 6);
  assert.equal((await admin('GET', '/alerts?host=no-such-host')).body.total, 0);
  assert.equal((await admin('GET', '/alerts?process_entity_id=proc-1')).body.total, 10);
  const byHost = await admin('GET', '/alerts?group_by=host');
  assert.deepEqual(byHost.body.groups.map((g: any) => [g.key, g.label, g.count, g.max_severity]), [[host, hostname, 30, 'critical']]);
  assert.deepEqual([byHost.body.total, byHost.body.total_groups], [30, 1]);
  const byProcess = await admin('GET', '/alerts?group_by=process&limit=2');
  assert.equal(byProcess.body.groups.length, 2);
  assert.equal(byProcess.body.total_groups, 3);
  assert.match(byProcess.body.groups[0].label, /^tool\d --run$/);
  assert.equal(byProcess.body.groups[0].host_id, host);
  const rest = await admin('GET', `/alerts?group_by=process&limit=2&cursor=${byProcess.body.next}`);
  assert.deepEqual([rest.body.groups.length, rest.body.next], [1, null]);
  assert.equal((await admin('GET', `/alerts?group_by=rule&cursor=${byProcess.body.next}`)).body.code, 'invalid_cursor');
  assert.equal((await admin('GET', `/alerts?cursor=${byProcess.body.next}`)).body.code, 'invalid_cursor');
  assert.equal((await admin('GET', '/alerts?status=suppressed')).status, 400);
  assert.equal((await admin('GET', '/alerts?limit=1001')).status, 400);
});

test('bulk triage closes the filtered selection with a disposition; one ledger entry says what changed', async () => {
  assert.equal((await admin('POST', '/alerts/bulk', { action: 'close', filter: {} })).status, 400, 'close needs a disposition and a reason');
  assert.equal((await admin('POST', '/alerts/bulk', { action: 'acknowledge' })).status, 400, 'a filter or ids');
  const r = await admin('POST', '/alerts/bulk', {
    action: 'close', disposition: 'false_positive', reason: 'lab tooling', filter: { host: hostname, severity: 'critical', status: ['open'] },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { action: 'close', matched: 6, changed: 6, remaining: 0 });
  const listed = await admin('GET', '/alerts?status=closed&disposition=false_positive');
  assert.equal(listed.body.total, 6);
  assert.ok(listed.body.alerts.every((a: any) => a.close_reason === 'lab tooling' && a.disposition === 'false_positive'));
  const entry = await ledgerEntry(r.headers.get('x-request-id'));
  assert.equal(entry.action, 'api.post /api/v1/alerts/bulk');
  assert.deepEqual({ ...entry.details.bulk, ids: entry.details.bulk.ids.length }, {
    action: 'close', disposition: 'false_positive', reason: 'lab tooling', filter: { host: hostname, severity: ['critical'], status: ['open'] },
    ids_given: 0, changed: 6, ids: 6,
  });
  assert.deepEqual(new Set(entry.details.bulk.ids), new Set(listed.body.alerts.map((a: any) => a.id)));
  const foreign = await call(f, 'POST', '/alerts/bulk', { token: f.tokens.foreign, body: { action: 'acknowledge', filter: {} } });
  assert.deepEqual(foreign.body, { action: 'acknowledge', matched: 1, changed: 1, remaining: 0 }, "the other tenant's own alert only");
  assert.equal((await admin('GET', '/alerts?status=acknowledged')).body.total, 0);
});

test('single triage: close needs a disposition; the ledger entry carries what changed', async () => {
  const id = alert(1).id;
  assert.equal((await admin('POST', `/alerts/${id}/close`, { reason: 'no disposition' })).status, 400);
  const closed = await admin('POST', `/alerts/${id}/close`, { reason: 'pentest', disposition: 'true_positive' });
  assert.deepEqual([closed.body.status, closed.body.disposition, closed.body.close_reason], ['closed', 'true_positive', 'pentest']);
  assert.deepEqual((await ledgerEntry(closed.headers.get('x-request-id'))).details.triage, { action: 'close', reason: 'pentest', disposition: 'true_positive' });
  const assigned = await admin('POST', `/alerts/${alert(2).id}/assign`, { assignee: 'bob' });
  assert.deepEqual((await ledgerEntry(assigned.headers.get('x-request-id'))).details.triage, { action: 'assign', assignee: 'bob' });
  const suppress = await admin('POST', `/alerts/${id}/suppress`, { reason: 'r', until: at(1) });
  assert.deepEqual([suppress.status, suppress.body.code], [400, 'suppress_removed']);
  assert.match(suppress.body.detail, /exception/);
});

test('exceptions: made from an alert or from conditions, changed, deleted; content in the ledger; refusals', async () => {
  const made = await admin('POST', `/alerts/${alert(3).id}/exception`, { fields: ['process.executable'], reason: 'tool0 is ours', expires_at: '2299-01-01T00:00:00Z' });
  assert.equal(made.status, 201);
  assert.deepEqual([made.body.rule_id, made.body.conditions, made.body.scope, made.body.source_alert_id, made.body.active],
    [RULE, [{ field: 'process.executable', op: 'equals', value: '/bin/tool0' }], { host_ids: [host] }, alert(3).id, true]);
  assert.deepEqual((await ledgerEntry(made.headers.get('x-request-id'))).details.exception.conditions, made.body.conditions);
  assert.equal((await admin('POST', `/alerts/${alert(3).id}/exception`, { fields: ['file.path'], reason: 'x' })).body.code, 'field_not_in_alert');
  assert.equal((await admin('POST', '/exceptions', { rule_id: 'no-such-rule', conditions: [], reason: 'x' })).status, 400);
  assert.equal((await admin('POST', '/exceptions', { rule_id: RULE, conditions: [], scope: { host_ids: ['nope'] }, reason: 'x' })).status, 400);
  assert.equal((await admin('POST', '/exceptions', { rule_id: RULE, conditions: [{ field: 'a..b', op: 'equals', value: 'x' }], reason: 'x' })).status, 400);
  assert.equal((await admin('POST', '/exceptions', { rule_id: RULE, conditions: [], reason: 'x', expires_at: at(1) })).status, 400, 'an expiry in the past');
  const patched = await admin('PATCH', `/exceptions/${made.body.id}`, { reason: 'still ours', expires_at: null });
  assert.deepEqual([patched.status, patched.body.reason, patched.body.expires_at], [200, 'still ours', null], JSON.stringify(patched.body));
  const patchEntry = await ledgerEntry(patched.headers.get('x-request-id'));
  assert.deepEqual([patchEntry.details.exception.before.reason, patchEntry.details.exception.after.reason], ['tool0 is ours', 'still ours']);
  const list = await call(f, 'GET', `/exceptions?rule_id=${RULE}&active=true`, { token: f.tokens.viewer });
  assert.deepEqual([list.status, list.body.total, list.body.exceptions[0].id], [200, 1, made.body.id]);
  assert.equal((await call(f, 'GET', `/exceptions/${made.body.id}`, { token: f.tokens.foreign })).status, 404);
  // the exception applies to new alerts written by detection
  const [fresh] = await f.server.detection.alerts.write([alert(303)]); // the same rule and executable as alert 3
  assert.deepEqual([fresh.status, fresh.exception_id], ['excepted', made.body.id]);
  const deleted = await admin('DELETE', `/exceptions/${made.body.id}`);
  assert.equal(deleted.status, 204);
  assert.equal((await ledgerEntry(deleted.headers.get('x-request-id'))).details.exception.reason, 'still ours');
  assert.equal((await admin('GET', `/exceptions/${made.body.id}`)).status, 404);
  assert.equal((await call(f, 'POST', '/exceptions', { token: f.tokens.viewer, body: { rule_id: RULE, conditions: [], reason: 'x' } })).status, 403);
});
