// GET /stats/mitre counts alerts per MITRE technique and tactic over every matching alert in the alert store (the
// console's MITRE view counted only the latest 1,000 alerts it had listed); GET /stats/overview's severity series
// includes informational alerts. A real embedded server; alerts written to its alert store.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alerts.ts';
import { technique } from '../../src/detect/mitre.ts';
import type { Level } from '../../src/sigma/ir.ts';
import { call, startFixture, type Fixture } from './support.ts';

let f: Fixture;
const now = Date.now();

const alertOf = (id: string, tenant: string, techniques: string[], level: Level = 'high', at = new Date(now)): Alert => ({
  id, tenant_id: tenant, host_id: 'h1',
  rule: { id: `rule-${level}`, title: `A ${level} rule`, level, references: [], type: 'single' },
  mitre: techniques.map(technique), events: [], event_ids: [id], first_seen: at.toISOString(), last_seen: at.toISOString(),
});

before(async () => {
  f = await startFixture();
  const alerts: Alert[] = [];
  for (let i = 0; i < 1_500; i++) alerts.push(alertOf(`m-exec-${i}`, 'default', ['T1059.004'], 'high', new Date(now - i * 1000)));
  for (let i = 0; i < 10; i++) alerts.push(alertOf(`m-c2-${i}`, 'default', ['T1105', 'T1059.004'], 'medium', new Date(now - 3_000_000 - i)));
  alerts.push(alertOf('m-closed', 'default', ['T1003']));
  alerts.push(alertOf('m-info', 'default', [], 'informational'));
  alerts.push(alertOf('m-foreign', 'other', ['T1003']));
  await f.server.detection.alerts.write(alerts);
  await f.server.detection.alerts.triage('default', 'm-closed', 'test', { action: 'close', reason: 'done', disposition: 'benign' });
  for (let i = 0; i < 10; i++) await f.server.detection.alerts.triage('default', `m-c2-${i}`, 'test', { action: 'acknowledge' });
});
after(async () => f.stop());

test('techniques and tactics over all open and acknowledged alerts, beyond the newest 1,000', async () => {
  const r = await call(f, 'GET', '/stats/mitre', { token: f.tokens.viewer });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.statuses, ['open', 'acknowledged']);
  assert.equal(r.body.alerts, 1_511, 'every open and acknowledged alert (the informational one too)');
  const byId = new Map(r.body.techniques.map((t: { id: string; alerts: number }) => [t.id, t]));
  assert.equal((byId.get('T1059.004') as { alerts: number }).alerts, 1_510);
  assert.equal((byId.get('T1105') as { alerts: number }).alerts, 10);
  assert.equal(byId.has('T1003'), false, 'closed alerts and other tenants are not counted');
  const exec = r.body.tactics.find((t: { name: string }) => t.name === 'Execution');
  assert.equal(exec.id, 'TA0002');
  assert.deepEqual(exec.techniques.map((t: { id: string; alerts: number }) => [t.id, t.alerts]), [['T1059.004', 1_510]]);
  const ids = r.body.tactics.map((t: { id: string }) => t.id);
  assert.ok(ids.indexOf('TA0002') < ids.indexOf('TA0011'), 'tactics in kill-chain order');

  const open = await call(f, 'GET', '/stats/mitre?status=open', { token: f.tokens.viewer });
  assert.equal(open.body.alerts, 1_501);
  assert.equal(open.body.techniques.find((t: { id: string }) => t.id === 'T1105'), undefined);
  const all = await call(f, 'GET', '/stats/mitre?status=all', { token: f.tokens.viewer });
  assert.equal(all.body.techniques.find((t: { id: string }) => t.id === 'T1003').alerts, 1);
  assert.equal((await call(f, 'GET', '/stats/mitre?status=open,bogus', { token: f.tokens.viewer })).status, 400);
  const foreign = await call(f, 'GET', '/stats/mitre?status=all', { token: f.tokens.foreign });
  assert.deepEqual([foreign.body.alerts, foreign.body.techniques.map((t: { id: string }) => t.id)], [1, ['T1003']]);
});

test('the overview\'s severity series counts informational alerts', async () => {
  const r = await call(f, 'GET', '/stats/overview?range=1h', { token: f.tokens.viewer });
  const rows = r.body.alerts_by_severity as Record<string, number>[];
  assert.ok('informational' in rows[0]);
  assert.equal(rows.reduce((n, x) => n + x.informational, 0), 1);
});
