// Correlation rules on hand-built timelines: every type, group-by with aliases, chaining, host partitioning,
// bounded state, and hot reload keeping the state of unchanged correlations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector } from '../../src/detect/engine.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import { normalizeRecord } from '../../src/detect/records.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import { vigilFieldMapper } from '../../src/detect/logsources.ts';

const base = `title: login
id: 00000000-0000-4000-8000-0000000000a1
name: login
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '/login'
  condition: sel
---
title: sudo
id: 00000000-0000-4000-8000-0000000000a2
name: sudo
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '/sudo'
  condition: sel
`;

function correlation(body: string, id = 'c1'): string {
  return `---\ntitle: corr ${id}\nid: ${id}\nname: ${id}\ncorrelation:\n${body.replace(/^/gm, '  ')}\n`;
}

function detector(text: string, previous?: Detector): Detector {
  const r = compileSigma([{ path: 'c.yml', text }], { fieldMapper: vigilFieldMapper });
  assert.deepEqual(r.rejected, []);
  return new Detector(r, previous);
}

let seq = 0;
function ev(t: number, exe: string, extra: { host?: string; user?: string; pid?: number } = {}): Record<string, unknown> {
  return {
    '@timestamp': new Date(Date.UTC(2026, 0, 1) + t * 1000).toISOString(),
    agent: { id: 'a', tenant_id: 't1' }, host: { id: extra.host ?? 'h1' },
    event: { id: `e${++seq}`, type: 'process_start' },
    process: { executable: exe, pid: extra.pid ?? 1 }, user: { name: extra.user ?? 'alice' },
  };
}

function run(d: Detector, events: Record<string, unknown>[]): Alert[] {
  const out: Alert[] = [];
  for (const e of events) out.push(...d.detect(normalizeRecord(e)!, 't1'));
  return [...out, ...d.flush()].filter((a) => a.rule.type !== 'single');
}

test('event_count fires when the count in the sliding window passes the threshold, per group and host', () => {
  const d = detector(base + correlation('type: event_count\nrules: [login]\ngroup-by: [User]\ntimespan: 1m\ncondition:\n  gte: 3'));
  assert.equal(run(d, [ev(0, '/bin/login'), ev(30, '/bin/login'), ev(61, '/bin/login')]).length, 0); // first left the window
  const alerts = run(d, [ev(100, '/bin/login'), ev(110, '/bin/login', { user: 'bob' }), ev(120, '/bin/login', { host: 'h2' }), ev(130, '/bin/login'), ev(140, '/bin/login')]);
  assert.equal(alerts.length, 1);
  assert.deepEqual(alerts[0].group_by, { User: 'alice' });
  assert.equal(alerts[0].host_id, 'h1');
  assert.equal(alerts[0].event_ids.length, 3);
});

test('base rules referenced only by generate:false correlations do not alert on their own', () => {
  const d = detector(base + correlation('type: event_count\nrules: [login]\ntimespan: 1m\ncondition:\n  gte: 5'));
  assert.deepEqual(d.detect(normalizeRecord(ev(0, '/bin/login'))!, 't1'), []);
  assert.equal(d.detect(normalizeRecord(ev(0, '/usr/bin/sudo'))!, 't1').length, 1);
});

test('value_count counts distinct values of a field', () => {
  const d = detector(base + correlation('type: value_count\nrules: [login]\ngroup-by: [Image]\ntimespan: 5m\ncondition:\n  field: User\n  gt: 2'));
  const same = run(d, [ev(0, '/bin/login'), ev(1, '/bin/login'), ev(2, '/bin/login'), ev(3, '/bin/login', { user: 'bob' })]);
  assert.equal(same.length, 0);
  const alerts = run(d, [ev(10, '/bin/login', { user: 'a' }), ev(11, '/bin/login', { user: 'b' }), ev(12, '/bin/login', { user: 'c' })]);
  assert.equal(alerts.length, 1);
});

test('upper-bounded conditions are decided when the window closes', () => {
  const d = detector(base + correlation('type: event_count\nrules: [login]\ntimespan: 1m\ncondition:\n  lt: 3'));
  const rare = [ev(0, '/bin/login'), ev(10, '/bin/login'), ev(100, '/bin/login'), ev(101, '/bin/login'), ev(102, '/bin/login')];
  const alerts = run(d, rare);
  assert.equal(alerts.length, 1); // first window (2 events) < 3; the second (3 events) is not
  assert.equal(alerts[0].event_ids.length, 2);
});

test('value_sum, value_avg and value_percentile aggregate a numeric field', () => {
  const pids = [10, 20, 30, 40];
  const timeline = pids.map((pid, i) => ev(i, '/bin/login', { pid }));
  assert.equal(run(detector(base + correlation('type: value_sum\nrules: [login]\ntimespan: 1m\ncondition:\n  field: ProcessId\n  gte: 100')), timeline).length, 1);
  assert.equal(run(detector(base + correlation('type: value_sum\nrules: [login]\ntimespan: 1m\ncondition:\n  field: ProcessId\n  gt: 100')), timeline).length, 0);
  assert.equal(run(detector(base + correlation('type: value_avg\nrules: [login]\ntimespan: 1m\ncondition:\n  field: ProcessId\n  eq: 25')), timeline).length, 1);
  assert.equal(run(detector(base + correlation('type: value_percentile\nrules: [login]\ntimespan: 1m\ncondition:\n  field: ProcessId\n  percentile: 75\n  eq: 30')), timeline).length, 1);
});

test('temporal needs all rules in the window in any order; temporal_ordered needs their order', () => {
  const temporal = detector(base + correlation('type: temporal\nrules: [login, sudo]\ngroup-by: [User]\ntimespan: 1m'));
  assert.equal(run(temporal, [ev(0, '/usr/bin/sudo'), ev(10, '/bin/login')]).length, 1);
  assert.equal(run(temporal, [ev(100, '/usr/bin/sudo'), ev(200, '/bin/login')]).length, 0);
  const ordered = detector(base + correlation('type: temporal_ordered\nrules: [login, sudo]\ngroup-by: [User]\ntimespan: 1m'));
  assert.equal(run(ordered, [ev(0, '/usr/bin/sudo'), ev(10, '/bin/login')]).length, 0);
  assert.equal(run(ordered, [ev(20, '/usr/bin/sudo', { user: 'bob' }), ev(30, '/bin/login', { user: 'bob' }), ev(40, '/usr/bin/sudo', { user: 'bob' })]).length, 1);
});

test('aliases map one group-by name to different fields per rule', () => {
  const body = 'type: temporal\nrules: [login, sudo]\ngroup-by: [who]\ntimespan: 1m\naliases:\n  who:\n    login: User\n    sudo: ProcessId';
  const d = detector(base + correlation(body));
  assert.equal(run(d, [ev(0, '/bin/login', { user: '7' }), ev(1, '/usr/bin/sudo', { pid: 8 })]).length, 0);
  const alerts = run(d, [ev(10, '/bin/login', { user: '9' }), ev(11, '/usr/bin/sudo', { pid: 9 })]);
  assert.equal(alerts.length, 1);
  assert.deepEqual(alerts[0].group_by, { who: '9' });
});

test('chained correlations consume the results of the correlations they reference', () => {
  const text = base + correlation('type: event_count\nrules: [login]\ngroup-by: [User]\ntimespan: 1m\ncondition:\n  gte: 2', 'inner')
    + correlation('type: event_count\nrules: [inner]\ngroup-by: [User]\ntimespan: 10m\ncondition:\n  gte: 2', 'outer');
  const alerts = run(detector(text), [ev(0, '/bin/login'), ev(1, '/bin/login'), ev(100, '/bin/login'), ev(101, '/bin/login')]);
  assert.deepEqual(alerts.map((a) => a.rule.id), ['inner', 'inner', 'outer']);
});

test('correlation ids are deterministic and hot reload keeps the state of unchanged correlations', () => {
  const text = base + correlation('type: event_count\nrules: [login]\ntimespan: 1h\ncondition:\n  gte: 2');
  const first = detector(text);
  assert.equal(run(first, [ev(0, '/bin/login')]).length, 0);
  const reloaded = detector(text, first);
  const alerts = run(reloaded, [ev(5, '/bin/login')]);
  assert.equal(alerts.length, 1);
  const changed = detector(text.replace('gte: 2', 'gte: 3'), reloaded);
  assert.equal(run(changed, [ev(6, '/bin/login'), ev(7, '/bin/login')]).length, 0);
});

test('correlation references to unknown rules are rejected', () => {
  const r = compileSigma([{ path: 'c.yml', text: base + correlation('type: event_count\nrules: [nope]\ntimespan: 1m\ncondition:\n  gte: 2') }]);
  assert.equal(r.correlations.length, 0);
  assert.match(r.rejected[0].reason, /unknown rule\(s\) nope/);
});
