// GET /stats/overview against a real embedded server: alerts by severity are bucketed over the range on the
// same UTC grid as the event rate (every bucket present, zeros included), and every time carries `Z`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Level } from '../../src/sigma/ir.ts';
import { call, drained, startFixture, type Fixture } from './support.ts';

let f: Fixture;

const alertAt = (id: string, at: Date, level: Level) => ({
  id, tenant_id: 'default', host_id: f.agents[0].identity.agentId,
  rule: { id: `rule-${level}`, title: `A ${level} rule`, level, references: [], type: 'single' as const },
  mitre: [], events: [], event_ids: [id], first_seen: at.toISOString(), last_seen: at.toISOString(),
});

before(async () => {
  f = await startFixture();
  await drained(f);
});
after(async () => f.stop());

test('alerts by severity per minute over the last hour, on the event rate grid, in UTC', async () => {
  const now = Date.now();
  await f.server.detection.alerts.write([
    alertAt('o1', new Date(now), 'high'),
    alertAt('o2', new Date(now), 'critical'),
    alertAt('o3', new Date(now - 10 * 60_000), 'low'),
    alertAt('o4', new Date(now - 2 * 3_600_000), 'high'), // outside the range
  ]);
  const r = await call(f, 'GET', '/stats/overview?range=1h', { token: f.tokens.viewer });
  assert.equal(r.status, 200);
  const rows = r.body.alerts_by_severity as { t: string; low: number; medium: number; high: number; critical: number }[];
  assert.ok(rows.length >= 60 && rows.length <= 61, `one row per minute (${rows.length})`);
  for (const row of rows) {
    assert.match(row.t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    assert.equal(Date.parse(row.t) % 60_000, 0);
  }
  const total = (k: 'low' | 'medium' | 'high' | 'critical') => rows.reduce((n, x) => n + x[k], 0);
  assert.deepEqual([total('low'), total('medium'), total('high'), total('critical')], [1, 0, 1, 1]);
  const last = rows.at(-1)!;
  assert.equal(last.t, new Date(Math.floor(now / 60_000) * 60_000).toISOString());
  assert.deepEqual([last.high, last.critical], [1, 1]);

  const grid = new Set(rows.map((x) => x.t));
  assert.ok(r.body.events_per_s.length > 0, 'the fixture\'s events are counted');
  for (const e of r.body.events_per_s) assert.ok(grid.has(e.t), `event bucket ${e.t} is on the alert grid`);
});

test('the 24 h range buckets by hour', async () => {
  const r = await call(f, 'GET', '/stats/overview?range=24h', { token: f.tokens.viewer });
  const rows = r.body.alerts_by_severity as { t: string; high: number }[];
  assert.ok(rows.length >= 24 && rows.length <= 25);
  for (const row of rows) assert.match(row.t, /T\d\d:00:00\.000Z$/);
  assert.equal(rows.reduce((n, x) => n + x.high, 0), 2, 'both high alerts are within 24 h');
});
